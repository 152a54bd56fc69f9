package authn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func ping(ctx context.Context, client testv1connect.TestServiceClient, header http.Header) error {
	_, _, err := testkit.Call(ctx, client, connect.StreamTypeUnary, header)
	return err
}

// TestPublicProcedures checks exact procedure names and service names and
// prefixes, in every protocol: public calls need no credentials and carry no
// identity even when they send credentials; other calls still need them.
func TestPublicProcedures(t *testing.T) {
	t.Parallel()
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	cases := map[string]authn.Option{
		"procedure":      authn.WithPublicProcedures(testv1connect.TestServicePingProcedure),
		"service":        authn.WithPublicServices(testv1connect.TestServiceName),
		"service_prefix": authn.WithPublicServices("connectware.test.*"),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(auth, opt)
			testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
				assert.NoError(t, ping(ctxTimeout(t), c.Client(), nil))
				assert.NoError(t, ping(ctxTimeout(t), c.Client(), bearer(goodToken)))
				assert.Equal(t, f.lastUser.Load(), any(""), "public call got an identity")
				_, _, err := testkit.Call(ctxTimeout(t), c.Client(), connect.StreamTypeServer, nil)
				if name == "procedure" {
					assert.Code(t, err, connect.CodeUnauthenticated)
				} else {
					assert.NoError(t, err)
				}
			})
		})
	}
	t.Run("other_services", func(t *testing.T) {
		t.Parallel()
		f := newFixture(auth,
			authn.WithPublicServices("grpc.health.v1.Health", "grpc.reflection.*", "connectware.test.v1.TestServiceX"),
			authn.WithPublicProcedures("/connectware.test.v1.TestService/Pin"))
		srv := testkit.NewServer(t, f.handler, testkit.H2C)
		err := ping(ctxTimeout(t), testkit.NewClient(srv, testkit.ConnectProto), nil)
		assert.Code(t, err, connect.CodeUnauthenticated)
	})
	t.Run("health_and_reflection", func(t *testing.T) {
		t.Parallel()
		reached := 0
		h := authn.New(auth, authn.WithPublicServices("grpc.health.v1.Health", "grpc.reflection.*")).
			Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
		for path, public := range map[string]bool{
			"/grpc.health.v1.Health/Check":                                   true,
			"/grpc.health.v1.Health/Watch":                                   true,
			"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
			"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
			"/prefix/grpc.health.v1.Health/Check":                            true,
			"/grpc.health.v1.HealthX/Check":                                  false,
			"/grpc.health.v1/Check":                                          false,
			"/grpc.reflectionX.v1.ServerReflection/ServerReflectionInfo":     false,
			"/grpc.reflection./ServerReflectionInfo":                         false,
			"/grpc.health.v1.Health/":                                        false,
			testv1connect.TestServicePingProcedure:                           false,
		} {
			reached = 0
			req := httptest.NewRequest(http.MethodPost, path, http.NoBody)
			req.Header.Set("Content-Type", "application/grpc")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, reached == 1, public, path)
			if !public {
				assert.Equal(t, rec.Header().Get("Grpc-Status"), "16", path)
			}
		}
	})
}

// TestPreflight checks that CORS preflights reach the next handler without
// authentication and without an identity, that they never authenticate a
// later real call, and that WithPreflightAuthentication restores the
// connectrpc.com/authn behaviour.
func TestPreflight(t *testing.T) {
	t.Parallel()
	var preflights atomic.Int64
	var sawInfo atomic.Bool
	mux := testkit.NewMux(&testkit.PingServer{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			preflights.Add(1)
			if authn.GetInfo(r.Context()) != nil {
				sawInfo.Store(true)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		mux.ServeHTTP(w, r)
	})
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	srv := testkit.NewServer(t, authn.New(auth).Wrap(next), testkit.HTTP1)
	strict := testkit.NewServer(t, authn.New(auth, authn.WithPreflightAuthentication()).Wrap(next), testkit.HTTP1)
	preflight := func(s *testkit.Server, acrm string, token string) int {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+testv1connect.TestServicePingProcedure, nil)
		req.Header.Set("Origin", "https://example.com")
		if acrm != "" {
			req.Header.Set("Access-Control-Request-Method", acrm)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := s.Client.Do(req)
		assert.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, preflight(srv, "POST", ""), http.StatusNoContent)
	assert.Equal(t, preflight(srv, "POST", goodToken), http.StatusNoContent)
	assert.Equal(t, preflights.Load(), int64(2))
	assert.True(t, !sawInfo.Load(), "a preflight carried an identity")
	// The same connection then carries a real call without credentials.
	assert.Code(t, ping(ctxTimeout(t), testkit.NewClient(srv, testkit.ConnectJSON), nil), connect.CodeUnauthenticated)
	// OPTIONS without Access-Control-Request-Method is no preflight.
	assert.Equal(t, preflight(srv, "", ""), http.StatusUnauthorized)
	assert.Equal(t, preflight(strict, "POST", ""), http.StatusUnauthorized)
	assert.Equal(t, preflights.Load(), int64(2))

	// A preflight passed through to connect-go never runs an RPC handler,
	// whatever it carries: connect-go serves RPCs only for POST and GET.
	f := newFixture(auth)
	direct := testkit.NewServer(t, f.handler, testkit.HTTP1)
	for _, ctype := range []string{"application/json", "application/grpc-web+proto", "application/connect+json"} {
		req, _ := http.NewRequest(http.MethodOptions, direct.URL+testv1connect.TestServicePingProcedure, strings.NewReader("{}"))
		req.Header.Set("Origin", "https://example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Content-Type", ctype)
		res, err := direct.Client.Do(req)
		assert.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		assert.True(t, res.StatusCode >= 400, ctype, res.StatusCode)
	}
	assert.Equal(t, f.calls.Load(), int64(0), "a preflight ran an RPC handler")
}

// TestNonRPC checks the three policies for requests that are not RPCs.
func TestNonRPC(t *testing.T) {
	t.Parallel()
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := authn.InfoAs[string](r.Context())
		_, _ = io.WriteString(w, "ok "+user)
	})
	get := func(h http.Handler, token string) (int, string) {
		srv := testkit.NewServer(t, h, testkit.HTTP1)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client.Do(req)
		assert.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	code, _ := get(authn.New(auth).Wrap(next), "")
	assert.Equal(t, code, http.StatusUnauthorized)
	code, body := get(authn.New(auth).Wrap(next), goodToken)
	assert.Equal(t, code, http.StatusOK)
	assert.Equal(t, body, "ok "+wantUser)
	code, body = get(authn.New(auth, authn.WithNonRPC(authn.NonRPCAllow)).Wrap(next), goodToken)
	assert.Equal(t, code, http.StatusOK)
	assert.Equal(t, body, "ok ", "allowed non-RPC request was authenticated")
	code, _ = get(authn.New(auth, authn.WithNonRPC(authn.NonRPCDeny)).Wrap(next), goodToken)
	assert.Equal(t, code, http.StatusNotFound)
	// RPCs are unaffected by the non-RPC policy.
	f := newFixture(auth, authn.WithNonRPC(authn.NonRPCAllow))
	srv := testkit.NewServer(t, f.handler, testkit.H2C)
	assert.Code(t, ping(ctxTimeout(t), testkit.NewClient(srv, testkit.ConnectJSON), nil), connect.CodeUnauthenticated)
}

// TestNonRPCPolicyNeverAppliesToRPCs sends RPCs whose Content-Type is not
// in canonical form (upper case, parameters, spaces), which connect-go
// canonicalizes and serves: under every non-RPC policy they must be
// authenticated like any RPC, never let through nor answered 404.
func TestNonRPCPolicyNeverAppliesToRPCs(t *testing.T) {
	t.Parallel()
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	type request struct {
		network testkit.Network
		ctype   string
		body    []byte
	}
	grpcBody := make([]byte, 5) // one empty, uncompressed message
	requests := []request{
		{testkit.HTTP1, "Application/JSON", []byte("{}")},
		{testkit.HTTP1, "APPLICATION/JSON; charset=utf-8", []byte("{}")},
		{testkit.HTTP1, "application/json ; charset=utf-8", []byte("{}")},
		{testkit.HTTP1, "Application/Grpc-Web+Proto", grpcBody},
		{testkit.H2C, "Application/Grpc", grpcBody},
		{testkit.H2C, "application/GRPC+proto", grpcBody},
	}
	for _, policy := range []authn.NonRPCPolicy{authn.NonRPCAuthenticate, authn.NonRPCAllow, authn.NonRPCDeny} {
		f := newFixture(auth, authn.WithNonRPC(policy))
		servers := map[testkit.Network]*testkit.Server{
			testkit.HTTP1: testkit.NewServer(t, f.handler, testkit.HTTP1),
			testkit.H2C:   testkit.NewServer(t, f.handler, testkit.H2C),
		}
		for _, r := range requests {
			send := func(token string) (status int, grpcStatus string) {
				srv := servers[r.network]
				req, err := http.NewRequest(http.MethodPost, srv.URL+testv1connect.TestServicePingProcedure, bytes.NewReader(r.body))
				assert.NoError(t, err)
				req.Header.Set("Content-Type", r.ctype)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := srv.Client.Do(req)
				assert.NoError(t, err)
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				return res.StatusCode, res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status")
			}
			name := fmt.Sprintf("policy %d, %s %q", policy, r.network, r.ctype)
			status, grpcStatus := send("")
			if strings.Contains(strings.ToLower(r.ctype), "grpc") {
				assert.Equal(t, status, http.StatusOK, name)
				assert.Equal(t, grpcStatus, "16", name)
			} else {
				assert.Equal(t, status, http.StatusUnauthorized, name)
			}
			assert.Equal(t, f.calls.Load(), int64(0), name, "an RPC reached the handler unauthenticated")
			status, grpcStatus = send(goodToken)
			assert.Equal(t, status, http.StatusOK, name)
			assert.True(t, grpcStatus == "" || grpcStatus == "0", name, grpcStatus)
			assert.Equal(t, f.calls.Load(), int64(1), name)
			f.calls.Store(0)
		}
	}
}

// TestIdentityNoLeak runs many concurrent callers with different tokens over
// shared connections, interleaved with anonymous public calls and rejected
// calls, and checks every handler sees exactly its caller's identity.
func TestIdentityNoLeak(t *testing.T) {
	t.Parallel()
	tokens := map[string]any{}
	for i := range 8 {
		tokens["token-"+string(rune('a'+i))] = "user-" + string(rune('a'+i))
	}
	var mismatches atomic.Int64
	ps := &testkit.PingServer{OnCall: func(ctx context.Context, procedure string) error {
		user, _ := authn.InfoAs[string](ctx)
		want := "" // the public procedure
		if procedure != testv1connect.TestServiceCountUpProcedure {
			want = strings.TrimPrefix(callerFrom(ctx), "token-")
			want = "user-" + want
		}
		if user != want {
			mismatches.Add(1)
		}
		return nil
	}}
	mux := testkit.NewMux(ps, connect.WithInterceptors(callerInterceptor{}))
	h := authn.New(authn.BearerTokens(tokens), authn.WithPublicProcedures(testv1connect.TestServiceCountUpProcedure)).Wrap(mux)
	testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
		client := c.Client()
		var wg sync.WaitGroup
		for token := range tokens {
			wg.Go(func() {
				for range 3 {
					if err := ping(ctxTimeout(t), client, bearer(token)); err != nil {
						t.Errorf("valid call: %v", err)
					}
					if _, _, err := testkit.Call(ctxTimeout(t), client, connect.StreamTypeServer, nil); err != nil {
						t.Errorf("public call: %v", err)
					}
					if err := ping(ctxTimeout(t), client, bearer(token+"-wrong")); connect.CodeOf(err) != connect.CodeUnauthenticated {
						t.Errorf("wrong token: %v", err)
					}
				}
			})
		}
		wg.Wait()
	})
	assert.Equal(t, mismatches.Load(), int64(0), "a handler saw another caller's identity")
}

type callerKey struct{}

func callerFrom(ctx context.Context) string { s, _ := ctx.Value(callerKey{}).(string); return s }

// callerInterceptor records the raw bearer token of each call so the
// handler can compare it with the identity the middleware stored.
type callerInterceptor struct{}

func (callerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		token := strings.TrimPrefix(req.Header().Get("Authorization"), "Bearer ")
		return next(context.WithValue(ctx, callerKey{}, token), req)
	}
}

func (callerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (callerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		token := strings.TrimPrefix(conn.RequestHeader().Get("Authorization"), "Bearer ")
		return next(context.WithValue(ctx, callerKey{}, token), conn)
	}
}

// TestNewMiddlewareCompat uses the package the way connectrpc.com/authn
// v0.2.0 is used: NewMiddleware with handler options, an AuthFunc built on
// BearerToken and Errorf with a challenge in the error's metadata, GetInfo.
func TestNewMiddlewareCompat(t *testing.T) {
	t.Parallel()
	auth := func(_ context.Context, req *http.Request) (any, error) {
		token, ok := authn.BearerToken(req)
		if !ok || token != goodToken {
			err := authn.Errorf("invalid authorization")
			err.Meta().Set("WWW-Authenticate", "Bearer")
			return nil, err
		}
		return wantUser, nil
	}
	var got atomic.Value
	ps := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
		got.Store(authn.GetInfo(ctx))
		return nil
	}}
	h := authn.NewMiddleware(auth, connect.WithCompressMinBytes(1)).Wrap(testkit.NewMux(ps))
	srv := testkit.NewServer(t, h, testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectJSON)
	err := ping(ctxTimeout(t), client, bearer("nope"))
	assert.Code(t, err, connect.CodeUnauthenticated)
	assert.Contains(t, err.Error(), "invalid authorization")
	assertChallenge(t, err, "Bearer")
	assert.NoError(t, ping(ctxTimeout(t), client, bearer(goodToken)))
	assert.Equal(t, got.Load(), any(wantUser))
}

// TestPlainErrorIsUnauthenticated checks that an AuthFunc's non-connect
// error is sent as Unauthenticated with the default challenge.
func TestPlainErrorIsUnauthenticated(t *testing.T) {
	t.Parallel()
	auth := func(context.Context, *http.Request) (any, error) { return nil, io.EOF }
	h := authn.New(auth, authn.WithChallenge(`Bearer realm="x"`)).Wrap(testkit.NewMux(&testkit.PingServer{}))
	srv := testkit.NewServer(t, h, testkit.H2C)
	err := ping(ctxTimeout(t), testkit.NewClient(srv, testkit.GRPC), nil)
	assert.Code(t, err, connect.CodeUnauthenticated)
	assertChallenge(t, err, `Bearer realm="x"`)
}

// TestNilAuth checks that a nil AuthFunc rejects everything but public calls.
func TestNilAuth(t *testing.T) {
	t.Parallel()
	h := authn.New(nil, authn.WithPublicProcedures(testv1connect.TestServiceFailProcedure)).Wrap(testkit.NewMux(&testkit.PingServer{}))
	srv := testkit.NewServer(t, h, testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	assert.Code(t, ping(ctxTimeout(t), client, bearer(goodToken)), connect.CodeUnauthenticated)
	_, err := client.Fail(ctxTimeout(t), connect.NewRequest(&testv1.FailRequest{Code: int32(connect.CodeAborted)}))
	assert.Code(t, err, connect.CodeAborted)
}

// TestAuthorizeAs checks the typed authorization adapter: it sees the typed
// identity, and identities of another type are denied.
func TestAuthorizeAs(t *testing.T) {
	t.Parallel()
	type user struct{ name string }
	tokens := map[string]any{goodToken: user{"alice"}, "string-identity": "bob"}
	var seen atomic.Value
	h := authn.New(authn.BearerTokens(tokens), authn.WithAuthorization(authn.AuthorizeAs(
		func(_ context.Context, u user, procedure string) error {
			seen.Store(u.name + " " + procedure)
			return nil
		}))).Wrap(testkit.NewMux(&testkit.PingServer{}))
	srv := testkit.NewServer(t, h, testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPCWeb)
	assert.NoError(t, ping(ctxTimeout(t), client, bearer(goodToken)))
	assert.Equal(t, seen.Load(), any("alice "+testv1connect.TestServicePingProcedure))
	assert.Code(t, ping(ctxTimeout(t), client, bearer("string-identity")), connect.CodePermissionDenied)
}

// TestAuthorizeNonRPCProcedure: the authorization hook sees the procedure
// of an RPC and an empty procedure for a request that is not one (here a
// static file), whether or not the middleware has public services to tell
// apart.
func TestAuthorizeNonRPCProcedure(t *testing.T) {
	t.Parallel()
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	for name, extra := range map[string][]authn.Option{
		"no_public":   nil,
		"with_public": {authn.WithPublicServices("grpc.health.v1.Health")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var seen atomic.Value
			opts := append([]authn.Option{authn.WithAuthorization(func(_ context.Context, _ any, procedure string) error {
				seen.Store(procedure)
				return nil
			})}, extra...)
			mux := testkit.NewMux(&testkit.PingServer{})
			mux.Handle("/static/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "file")
			}))
			srv := testkit.NewServer(t, authn.New(auth, opts...).Wrap(mux), testkit.H2C)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/static/app.js", nil)
			req.Header.Set("Authorization", "Bearer "+goodToken)
			res, err := srv.Client.Do(req)
			assert.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, res.StatusCode, http.StatusOK)
			assert.Equal(t, seen.Load(), any(""), "the procedure of a static file")
			// An RPC to a path that names no procedure has none either.
			req, _ = http.NewRequest(http.MethodPost, srv.URL+"/static/", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+goodToken)
			seen.Store("unset")
			res, err = srv.Client.Do(req)
			assert.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, res.StatusCode, http.StatusOK)
			assert.Equal(t, seen.Load(), any(""), "the procedure of an RPC to no procedure")
			assert.NoError(t, ping(ctxTimeout(t), testkit.NewClient(srv, testkit.ConnectJSON), bearer(goodToken)))
			assert.Equal(t, seen.Load(), any(testv1connect.TestServicePingProcedure))
		})
	}
}

// TestEmptyChallenge: a 401 never carries an empty WWW-Authenticate header
// (RFC 9110 requires a challenge in it). With no challenge configured there
// is none; an AuthFunc's empty challenge gives way to the configured one.
func TestEmptyChallenge(t *testing.T) {
	t.Parallel()
	emptyChallenge := func(context.Context, *http.Request) (any, error) {
		return nil, authn.Challenge(nil, "")
	}
	for name, tc := range map[string]struct {
		mw   *authn.Middleware
		want []string
	}{
		"nil_auth":          {authn.New(nil), nil},
		"empty":             {authn.New(emptyChallenge), nil},
		"empty_and_default": {authn.New(emptyChallenge, authn.WithChallenge(`Bearer realm="x"`)), []string{`Bearer realm="x"`}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, tc.mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.HTTP1)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+testv1connect.TestServicePingProcedure, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			res, err := srv.Client.Do(req)
			assert.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, res.StatusCode, http.StatusUnauthorized)
			got := res.Header.Values("Www-Authenticate")
			assert.Equal(t, len(got), len(tc.want), "WWW-Authenticate headers", got)
			assert.Equal(t, strings.Join(got, "|"), strings.Join(tc.want, "|"))
		})
	}
}

// TestRepeatedAuthorization: the Authorization field may appear only once,
// so a request with two (a valid one first) is refused by every validator
// that reads it, as APIKeys refuses a repeated key header, rather than
// authenticated by whichever value comes first.
func TestRepeatedAuthorization(t *testing.T) {
	t.Parallel()
	basic, err := authn.BasicAuth(map[string]string{"alice": mustHash(t, "pw")})
	assert.NoError(t, err)
	validators := map[string]struct {
		auth authn.AuthFunc
		good string
	}{
		"bearer": {authn.BearerTokens(map[string]any{goodToken: wantUser}), "Bearer " + goodToken},
		"basic":  {basic, "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw"))},
	}
	for name, v := range validators {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/x", nil)
			req.Header.Set("Authorization", v.good)
			info, err := v.auth(context.Background(), req)
			assert.NoError(t, err, "one header")
			assert.True(t, info != nil)
			req.Header.Add("Authorization", "Bearer someone-else")
			_, err = v.auth(context.Background(), req)
			assert.Code(t, err, connect.CodeUnauthenticated)
			_, ok := authn.BearerToken(req)
			assert.True(t, !ok, "BearerToken with two headers")
			_, _, ok = authn.BasicCredentials(req)
			assert.True(t, !ok, "BasicCredentials with two headers")
		})
	}
}
