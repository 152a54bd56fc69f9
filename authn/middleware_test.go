package authn_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	goodToken = "s3cr3t-token-for-alice"
	wantUser  = "alice"
)

// fixture is a PingServer behind a Middleware that counts the calls
// reaching the handler and records the identity each one saw.
type fixture struct {
	calls    atomic.Int64
	lastUser atomic.Value // string
	handler  http.Handler
}

func newFixture(auth authn.AuthFunc, opts ...authn.Option) *fixture {
	f := &fixture{}
	ps := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
		f.calls.Add(1)
		user, _ := authn.InfoAs[string](ctx)
		f.lastUser.Store(user)
		return nil
	}}
	f.handler = authn.New(auth, opts...).Wrap(testkit.NewMux(ps))
	return f
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": []string{"Bearer " + token}}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestMatrix checks every network, protocol and RPC kind: calls without or
// with a wrong token fail with Unauthenticated and an RFC 6750 challenge and
// never reach the handler; calls with the right token reach it with the
// identity in their context.
func TestMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.BearerTokens(map[string]any{goodToken: wantUser}))
	testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
		client := c.Client()
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler/missing", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), client, st, nil)
				assert.Code(t, err, connect.CodeUnauthenticated)
				assertChallenge(t, err, `Bearer realm="api"`)
				assert.Equal(t, f.calls.Load(), before, "handler ran")
			})
			t.Run(testkit.StreamTypeName(st)+"/handler/wrong", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), client, st, bearer(goodToken+"x"))
				assert.Code(t, err, connect.CodeUnauthenticated)
				assertChallenge(t, err, `Bearer realm="api", error="invalid_token"`)
				assert.Equal(t, f.calls.Load(), before, "handler ran")
			})
			t.Run(testkit.StreamTypeName(st)+"/handler/valid", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), client, st, bearer(goodToken))
				assert.NoError(t, err)
				assert.True(t, f.calls.Load() > before, "handler did not run")
			})
		}
	})
}

// assertChallenge checks the WWW-Authenticate challenge the client saw.
func assertChallenge(t *testing.T, err error, want string) {
	t.Helper()
	var cerr *connect.Error
	assert.True(t, errors.As(err, &cerr))
	// connect-go's gRPC-Web client reports a trailers-only response's
	// headers both as headers and trailers, so a value may appear twice.
	values := cerr.Meta().Values("Www-Authenticate")
	assert.True(t, len(values) > 0, "no challenge")
	for _, v := range values {
		assert.Equal(t, v, want)
	}
}

// TestAuthorizationMatrix checks that the authorization hook sees the
// identity and procedure and that its refusal is PermissionDenied in every
// protocol and RPC kind, with the handler never running.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	var seen atomic.Value
	f := newFixture(
		authn.BearerTokens(map[string]any{goodToken: wantUser}),
		authn.WithAuthorization(func(_ context.Context, info any, procedure string) error {
			seen.Store(info.(string) + " " + procedure)
			if procedure == testv1connect.TestServicePingProcedure {
				return nil
			}
			return errors.New("alice may only ping")
		}),
	)
	testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), c.Client(), st, bearer(goodToken))
				assert.Equal(t, seen.Load(), any(wantUser+" "+testkit.Procedure(st)))
				if st == connect.StreamTypeUnary {
					assert.NoError(t, err)
					assert.Equal(t, f.lastUser.Load(), any(wantUser))
					return
				}
				assert.Code(t, err, connect.CodePermissionDenied)
				assert.Contains(t, err.Error(), "alice may only ping")
				assert.Equal(t, f.calls.Load(), before, "handler ran")
			})
		}
	})
}

// TestHTTPStatus checks the raw Connect responses: 401 with a challenge, 403
// for authorization failures, and JSON error bodies.
func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(
		authn.BearerTokens(map[string]any{goodToken: wantUser, "bob-token": "bob"}),
		authn.WithAuthorization(func(_ context.Context, info any, _ string) error {
			if info != wantUser {
				return errors.New("not alice")
			}
			return nil
		}),
	)
	srv := testkit.NewServer(t, f.handler, testkit.HTTP1)
	do := func(token string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+testv1connect.TestServicePingProcedure, strings.NewReader(`{"number":1}`))
		assert.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client.Do(req)
		assert.NoError(t, err)
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}
	res := do("")
	assert.Equal(t, res.StatusCode, http.StatusUnauthorized)
	assert.Equal(t, res.Header.Get("Www-Authenticate"), `Bearer realm="api"`)
	assert.Equal(t, res.Header.Get("Content-Type"), "application/json")
	res = do("bob-token")
	assert.Equal(t, res.StatusCode, http.StatusForbidden)
	assert.Equal(t, res.Header.Get("Www-Authenticate"), "")
	res = do(goodToken)
	assert.Equal(t, res.StatusCode, http.StatusOK)
	assert.Equal(t, f.calls.Load(), int64(1))
	// A Connect GET (unary with the message in the query) is an RPC too.
	get, err := srv.Client.Get(srv.URL + testv1connect.TestServicePingProcedure + "?encoding=json&message=%7B%7D")
	assert.NoError(t, err)
	_ = get.Body.Close()
	assert.Equal(t, get.StatusCode, http.StatusUnauthorized)
	assert.Equal(t, get.Header.Get("Www-Authenticate"), `Bearer realm="api"`)
	assert.Equal(t, get.Header.Get("Content-Type"), "application/json")
	assert.Equal(t, f.calls.Load(), int64(1))
}

// TestGRPCGo checks rejections and successes with grpc-go clients.
func TestGRPCGo(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.BearerTokens(map[string]any{goodToken: wantUser}))
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		conn := testkit.GRPCConn(t, testkit.NewServer(t, f.handler, n))
		for _, st := range testkit.StreamTypes() {
			t.Run(n.String()+"/grpc-go/"+testkit.StreamTypeName(st), func(t *testing.T) {
				before := f.calls.Load()
				err := testkit.GRPCCall(ctxTimeout(t), conn, st)
				assert.Error(t, err)
				assert.Contains(t, err.Error(), "Unauthenticated")
				assert.Equal(t, f.calls.Load(), before, "handler ran")
				ctx := metadataContext(ctxTimeout(t), "authorization", "Bearer "+goodToken)
				assert.NoError(t, testkit.GRPCCall(ctx, conn, st))
			})
		}
	}
}
