package cors_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestResponseHeadersTrailers: each trailer name is listed once, however
// often and in whatever case it is given, and a blank name adds nothing
// (no bare "Trailer-"), in the list and in the middleware's grant.
func TestResponseHeadersTrailers(t *testing.T) {
	t.Parallel()
	trailers := []string{"x-a", "X-B", "x-a", "", "  ", " x-b ", "X-A"}
	want := []string{"Accept-Encoding", "Connect-Content-Encoding", "Connect-Accept-Encoding", "Trailer-X-A", "Trailer-X-B"}
	assert.Equal(t, cors.ResponseHeaders(cors.ProtocolConnect, trailers...), want)

	c, err := cors.New([]string{"https://app.example.com"}, cors.WithUnaryTrailers(trailers...))
	assert.NoError(t, err)
	srv := httptest.NewServer(c.Handler(http.NotFoundHandler()))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
	assert.NoError(t, err)
	req.Header.Set("Origin", "https://app.example.com")
	res, err := srv.Client().Do(req)
	assert.NoError(t, err)
	res.Body.Close()
	exposed := strings.Split(res.Header.Get("Access-Control-Expose-Headers"), ", ")
	for _, name := range exposed {
		assert.True(t, name != "Trailer-", "a bare Trailer- is exposed", exposed)
	}
	n := 0
	for _, name := range exposed {
		if name == "Trailer-X-A" || name == "Trailer-X-B" {
			n++
		}
	}
	assert.Equal(t, n, 2, exposed)
}
