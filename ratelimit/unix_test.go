package ratelimit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// serveUnix serves h on a Unix socket, as a server behind a local proxy
// does, and returns a client whose calls carry header.
func serveUnix(t *testing.T, h http.Handler) func(header http.Header) testv1connect.TestServiceClient {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", path)
	assert.NoError(t, err)
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	transport := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		assert.NoError(t, srv.Close())
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return func(header http.Header) testv1connect.TestServiceClient {
		return testv1connect.NewTestServiceClient(&http.Client{Transport: transport}, "http://proxy.invalid",
			connect.WithInterceptors(headerInterceptor(header)))
	}
}

// headerInterceptor adds header to every request, as the proxy would.
func headerInterceptor(header http.Header) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			for k, v := range header {
				req.Header()[k] = v
			}
			return next(ctx, req)
		}
	}
}

// TestKeyIPBehindUnixSocket runs a server on a Unix socket, whose peers
// have no IP address, with the middleware and the interceptor. Keyed by
// KeyIPBehindUnixSocket, each client the proxy names has its own bucket
// (burst 1), and calls it names no client for share the socket's; keyed by
// KeyIPFrom, every call shares that one bucket.
func TestKeyIPBehindUnixSocket(t *testing.T) {
	t.Parallel()
	ping := func(t *testing.T, client testv1connect.TestServiceClient) error {
		_, err := client.Ping(callTimeout(t), connect.NewRequest(&testv1.PingRequest{Number: 1}))
		return err
	}
	for _, c := range []struct {
		name    string
		handler func(ratelimit.Key) http.Handler
	}{
		{"middleware", func(k ratelimit.Key) http.Handler {
			return ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(k)).Wrap(testkit.NewMux(&testkit.PingServer{}))
		}},
		{"interceptor", func(k ratelimit.Key) http.Handler {
			ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(k))
			return testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic))
		}},
	} {
		t.Run(c.name+"/unix_trusted", func(t *testing.T) {
			t.Parallel()
			client := serveUnix(t, c.handler(ratelimit.KeyIPBehindUnixSocket(ratelimit.HeaderXForwardedFor)))
			alice := client(http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.1"}})
			bob := client(http.Header{"X-Forwarded-For": {"198.51.100.2"}})
			nobody := client(nil)
			assert.NoError(t, ping(t, alice))
			assert.Code(t, ping(t, alice), connect.CodeResourceExhausted)
			assert.NoError(t, ping(t, bob), "bob has his own bucket")
			assert.NoError(t, ping(t, nobody), "no client named: the socket's bucket")
			assert.Code(t, ping(t, nobody), connect.CodeResourceExhausted)
			// The same client named through a different left part: the
			// proxy's right-most entry is what counts.
			assert.Code(t, ping(t, client(http.Header{"X-Forwarded-For": {"198.51.100.1"}})), connect.CodeResourceExhausted)
		})
		t.Run(c.name+"/unix_untrusted", func(t *testing.T) {
			t.Parallel()
			client := serveUnix(t, c.handler(ratelimit.KeyIPFrom(ratelimit.HeaderXForwardedFor)))
			assert.NoError(t, ping(t, client(http.Header{"X-Forwarded-For": {"198.51.100.1"}})))
			assert.Code(t, ping(t, client(http.Header{"X-Forwarded-For": {"198.51.100.2"}})), connect.CodeResourceExhausted,
				"KeyIPFrom cannot trust a Unix socket's peer: one bucket")
		})
	}
}
