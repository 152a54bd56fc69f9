package testkit_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMatrix runs every RPC kind in every protocol over every network and
// checks the HTTP version the server saw.
func TestMatrix(t *testing.T) {
	t.Parallel()
	var seen sync.Map // echo header value -> HTTP version the server saw
	mux := testkit.NewMux(&testkit.PingServer{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get(testkit.HeaderEcho), r.Proto)
		mux.ServeHTTP(w, r)
	})
	testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				header := http.Header{testkit.HeaderEcho: []string{t.Name()}}
				resHeader, resTrailer, err := testkit.Call(ctx, c.Client(), st, header)
				if !testkit.SupportsStream(c.Network, st) {
					assert.Error(t, err, "bidi over HTTP/1.1 must fail")
					return
				}
				assert.NoError(t, err)
				assert.Equal(t, resHeader.Get(testkit.HeaderEcho), t.Name())
				assert.Equal(t, resTrailer.Get(testkit.HeaderEcho+"-Trailer"), t.Name())
				proto, _ := seen.Load(t.Name())
				if c.Network.HTTP2() {
					assert.Equal(t, proto, any("HTTP/2.0"))
				} else {
					assert.Equal(t, proto, any("HTTP/1.1"))
				}
			})
		}
	})
}

func TestFailCodes(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		_, err := c.Client().Fail(context.Background(), connect.NewRequest(&testv1.FailRequest{Code: int32(connect.CodeResourceExhausted), Message: "no"}))
		assert.Code(t, err, connect.CodeResourceExhausted)
	})
}

func TestGRPCGo(t *testing.T) {
	t.Parallel()
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), n)
		conn := testkit.GRPCConn(t, srv)
		for _, st := range testkit.StreamTypes() {
			t.Run(n.String()+"/"+testkit.StreamTypeName(st), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				assert.NoError(t, testkit.GRPCCall(ctx, conn, st))
			})
		}
		t.Run(n.String()+"/fail", func(t *testing.T) {
			err := conn.Invoke(context.Background(), "/connectware.test.v1.TestService/Fail", &testv1.FailRequest{Code: int32(codes.PermissionDenied)}, &testv1.FailResponse{})
			assert.Equal(t, status.Code(err), codes.PermissionDenied)
		})
	}
}
