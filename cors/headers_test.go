package cors_test

import (
	"slices"
	"testing"

	"github.com/connectware/connectware/cors"
	"github.com/connectware/connectware/internal/assert"
)

func TestPresetLists(t *testing.T) {
	t.Parallel()
	assert.Equal(t, cors.Methods(cors.ProtocolConnect), []string{"GET", "POST"})
	assert.Equal(t, cors.Methods(cors.ProtocolGRPCWeb), []string{"POST"})
	assert.Equal(t, cors.AllowedMethods(), []string{"GET", "POST"})
	assert.Equal(t, cors.Methods(0), []string(nil))

	connect := cors.RequestHeaders(cors.ProtocolConnect)
	web := cors.RequestHeaders(cors.ProtocolGRPCWeb)
	for _, h := range []string{"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms", "Content-Encoding", "Connect-Content-Encoding", "Connect-Accept-Encoding"} {
		assert.True(t, slices.Contains(connect, h), h)
		assert.True(t, !slices.Contains(web, h) || h == "Content-Type", h)
	}
	for _, h := range []string{"Content-Type", "X-Grpc-Web", "Grpc-Timeout", "Grpc-Encoding", "Grpc-Accept-Encoding", "X-User-Agent"} {
		assert.True(t, slices.Contains(web, h), h)
	}
	// Everything the compatibility list allows, the union preset allows too.
	all := cors.RequestHeaders(cors.ProtocolAll)
	for _, h := range cors.AllowedHeaders() {
		assert.True(t, slices.Contains(all, h), h)
	}
	exposedAll := cors.ResponseHeaders(cors.ProtocolAll, "x-cost", "Retry-Count")
	for _, h := range append(cors.ExposedHeaders(), "Trailer-X-Cost", "Trailer-Retry-Count", "Grpc-Encoding") {
		assert.True(t, slices.Contains(exposedAll, h), h)
	}
	// Trailer- headers only exist in the Connect protocol.
	assert.True(t, !slices.Contains(cors.ResponseHeaders(cors.ProtocolGRPCWeb, "x-cost"), "Trailer-X-Cost"))
	assert.True(t, !slices.Contains(cors.ResponseHeaders(cors.ProtocolConnect), "Grpc-Status"))
	assert.Equal(t, cors.ProtocolAll.String(), "connect+grpcweb")
}
