package testkit

import (
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// StreamTypes lists the four RPC kinds, for table-driven tests.
func StreamTypes() []connect.StreamType {
	return []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeClient, connect.StreamTypeServer, connect.StreamTypeBidi}
}

// StreamTypeName names a stream type in test names: "unary",
// "client_stream", "server_stream" or "bidi_stream".
func StreamTypeName(st connect.StreamType) string {
	switch st {
	case connect.StreamTypeUnary:
		return "unary"
	case connect.StreamTypeClient:
		return "client_stream"
	case connect.StreamTypeServer:
		return "server_stream"
	case connect.StreamTypeBidi:
		return "bidi_stream"
	}
	return "unknown"
}

// SupportsStream reports whether a call of kind st can run over n: a
// full-duplex bidi stream needs HTTP/2.
func SupportsStream(n Network, st connect.StreamType) bool {
	return st != connect.StreamTypeBidi || n.HTTP2()
}

// Case is one cell of the protocol matrix.
type Case struct {
	Network  Network
	Protocol Protocol
	Server   *Server
}

// Name is "network/protocol".
func (c Case) Name() string { return c.Network.String() + "/" + c.Protocol.String() }

// Client returns a TestService client for this case.
func (c Case) Client(opts ...connect.ClientOption) testv1connect.TestServiceClient {
	return NewClient(c.Server, c.Protocol, opts...)
}

// Matrix starts one server per Network for h and runs fn in a subtest named
// "network/protocol" for every protocol the network supports (gRPC is left
// out over HTTP/1.1, where it cannot run).
func Matrix(t *testing.T, h http.Handler, fn func(t *testing.T, c Case)) {
	t.Helper()
	for _, n := range Networks() {
		srv := NewServer(t, h, n)
		for _, p := range Protocols() {
			if !p.Supports(n) {
				continue
			}
			c := Case{Network: n, Protocol: p, Server: srv}
			t.Run(c.Name(), func(t *testing.T) { fn(t, c) })
		}
	}
}

// NewMux returns a mux serving svc (typically a *PingServer) with opts.
func NewMux(svc testv1connect.TestServiceHandler, opts ...connect.HandlerOption) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(svc, opts...))
	return mux
}
