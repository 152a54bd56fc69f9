// Package authn_test measures connectware/authn against a middleware shaped
// like connectrpc.com/authn v0.2.0 (the module cannot be fetched here, so
// v02Middleware below reproduces its request path: an AuthFunc calling
// BearerToken and comparing one token, errors written with
// connect.NewErrorWriter), and against no authentication at all.
package authn_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/authn/jwt"
)

const (
	token     = "tok_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	procedure = "/connectware.test.v1.TestService/Ping"
)

// v02Middleware is connectrpc.com/authn v0.2.0's Middleware, rewritten:
// call the AuthFunc, write its error with a connect.ErrorWriter, or store
// the identity in the context and call the handler.
type v02Middleware struct {
	auth        func(context.Context, *http.Request) (any, error)
	errorWriter *connect.ErrorWriter
}

type v02Key struct{}

func (m *v02Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		info, err := m.auth(ctx, r)
		if err != nil {
			_ = m.errorWriter.Write(w, r, err)
			return
		}
		if info != nil {
			r = r.WithContext(context.WithValue(ctx, v02Key{}, info))
		}
		next.ServeHTTP(w, r)
	})
}

// v02Auth is the AuthFunc the v0.2.0 README shows for bearer tokens.
func v02Auth(_ context.Context, r *http.Request) (any, error) {
	got, ok := authn.BearerToken(r)
	if !ok {
		return nil, authn.Errorf("invalid authorization")
	}
	if got != token {
		return nil, authn.Errorf("invalid token")
	}
	return "alice", nil
}

// writer is a reusable http.ResponseWriter that discards the body.
type writer struct {
	header http.Header
	code   int
}

func (w *writer) Header() http.Header         { return w.header }
func (w *writer) Write(p []byte) (int, error) { return len(p), nil }
func (w *writer) WriteHeader(code int)        { w.code = code }

var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func newRequest(authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, procedure, strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func run(b *testing.B, h http.Handler, r *http.Request, wantCode int) {
	b.Helper()
	w := &writer{header: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.code != wantCode {
		b.Fatalf("status %d, want %d", w.code, wantCode)
	}
}

func staticHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"connectware": authn.NewMiddleware(authn.BearerTokens(map[string]any{token: "alice"})).Wrap(next),
		"official":    (&v02Middleware{auth: v02Auth, errorWriter: connect.NewErrorWriter()}).Wrap(next),
		"bare":        next,
	}
}

// BenchmarkValidStaticToken: a call with the right bearer token.
func BenchmarkValidStaticToken(b *testing.B) {
	for _, name := range []string{"connectware", "official", "bare"} {
		b.Run(name, func(b *testing.B) {
			run(b, staticHandlers()[name], newRequest("Bearer "+token), http.StatusOK)
		})
	}
}

// BenchmarkRejectMissingToken: a call without credentials, answered 401.
func BenchmarkRejectMissingToken(b *testing.B) {
	for _, name := range []string{"connectware", "official"} {
		b.Run(name, func(b *testing.B) {
			run(b, staticHandlers()[name], newRequest(""), http.StatusUnauthorized)
		})
	}
}

// BenchmarkRejectWrongToken: a call with a wrong token, answered 401.
func BenchmarkRejectWrongToken(b *testing.B) {
	for _, name := range []string{"connectware", "official"} {
		b.Run(name, func(b *testing.B) {
			run(b, staticHandlers()[name], newRequest("Bearer "+token+"x"), http.StatusUnauthorized)
		})
	}
}

type signer struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

func jwtSetup(b *testing.B) (map[string]signer, *jwt.JWKS) {
	b.Helper()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	signers := map[string]signer{
		"RS256": {jose.RS256, "rsa", rsaKey},
		"ES256": {jose.ES256, "ec", ecKey},
		"EdDSA": {jose.EdDSA, "ed", edKey},
	}
	var set jose.JSONWebKeySet
	for _, s := range signers {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: s.priv.Public(), KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"})
	}
	doc, _ := json.Marshal(set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	b.Cleanup(srv.Close)
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = keys.Close() })
	return signers, keys
}

func (s signer) token(b *testing.B) string {
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	t, err := josejwt.Signed(sg).Claims(josejwt.Claims{
		Issuer: "https://issuer.test/", Subject: "alice", Audience: josejwt.Audience{"api"},
		Expiry: josejwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: josejwt.NewNumericDate(now),
	}).Serialize()
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// handWritten is the AuthFunc a v0.2.0 user writes for JWTs: parse and
// verify with go-jose on every call, one static key, no cache.
func handWritten(alg jose.SignatureAlgorithm, key any) func(context.Context, *http.Request) (any, error) {
	return func(_ context.Context, r *http.Request) (any, error) {
		raw, ok := authn.BearerToken(r)
		if !ok {
			return nil, authn.Errorf("missing token")
		}
		tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
		if err != nil {
			return nil, authn.Errorf("invalid token")
		}
		var claims josejwt.Claims
		if err := tok.Claims(key, &claims); err != nil {
			return nil, authn.Errorf("invalid token")
		}
		if err := claims.Validate(josejwt.Expected{Issuer: "https://issuer.test/", AnyAudience: josejwt.Audience{"api"}}); err != nil {
			return nil, authn.Errorf("invalid token")
		}
		return claims.Subject, nil
	}
}

// BenchmarkJWT: a repeated valid token (cache hit) and fresh verifications
// per algorithm, through the middleware.
func BenchmarkJWT(b *testing.B) {
	signers, keys := jwtSetup(b)
	opts := []jwt.Option{jwt.WithIssuer("https://issuer.test/"), jwt.WithAudience("api")}
	cached, err := jwt.NewVerifier(keys, []string{"RS256", "ES256", "EdDSA"}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	fresh, err := jwt.NewVerifier(keys, []string{"RS256", "ES256", "EdDSA"}, append(opts, jwt.WithCacheSize(0))...)
	if err != nil {
		b.Fatal(err)
	}
	es := signers["ES256"]
	b.Run("cache_hit/connectware", func(b *testing.B) {
		run(b, authn.NewMiddleware(cached.AuthFunc()).Wrap(next), newRequest("Bearer "+es.token(b)), http.StatusOK)
	})
	b.Run("cache_hit/official", func(b *testing.B) {
		h := (&v02Middleware{auth: handWritten(es.alg, es.priv.Public()), errorWriter: connect.NewErrorWriter()}).Wrap(next)
		run(b, h, newRequest("Bearer "+es.token(b)), http.StatusOK)
	})
	for _, name := range []string{"RS256", "ES256", "EdDSA"} {
		s := signers[name]
		b.Run("fresh_"+name+"/connectware", func(b *testing.B) {
			run(b, authn.NewMiddleware(fresh.AuthFunc()).Wrap(next), newRequest("Bearer "+s.token(b)), http.StatusOK)
		})
		b.Run("fresh_"+name+"/official", func(b *testing.B) {
			h := (&v02Middleware{auth: handWritten(s.alg, s.priv.Public()), errorWriter: connect.NewErrorWriter()}).Wrap(next)
			run(b, h, newRequest("Bearer "+s.token(b)), http.StatusOK)
		})
	}
}

// TestAllocations holds the allocation targets: a valid static
// token costs at most 2 allocations, a missing-token rejection at most 10.
func TestAllocations(t *testing.T) {
	h := staticHandlers()["connectware"]
	cases := []struct {
		name   string
		req    *http.Request
		code   int
		budget float64
	}{
		{"valid_static_token", newRequest("Bearer " + token), http.StatusOK, 2},
		{"reject_missing_token", newRequest(""), http.StatusUnauthorized, 10},
	}
	for _, c := range cases {
		w := &writer{header: make(http.Header)}
		allocs := testing.AllocsPerRun(200, func() {
			clear(w.header)
			h.ServeHTTP(w, c.req)
		})
		if w.code != c.code {
			t.Fatalf("%s: status %d, want %d", c.name, w.code, c.code)
		}
		if allocs > c.budget {
			t.Errorf("%s: %.1f allocs per call, budget %.0f", c.name, allocs, c.budget)
		}
	}
}
