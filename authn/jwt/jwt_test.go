package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/authn/jwt"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	issuer   = "https://issuer.test/"
	audience = "connectware-test"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
	rsaKey2  *rsa.PrivateKey
)

func testKeys(t testing.TB) {
	keysOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		assert.NoError(t, err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		assert.NoError(t, err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		assert.NoError(t, err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		assert.NoError(t, err)
	})
}

// jwksServer serves a JWKS document that tests can replace mid-test.
type jwksServer struct {
	*httptest.Server
	doc     atomic.Value // []byte
	status  atomic.Int64
	fetches atomic.Int64
	hang    chan struct{} // when non-nil, requests hang until it closes
}

func newJWKSServer(t testing.TB, keys ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{}
	s.setKeys(t, keys...)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.hang != nil {
			select {
			case <-s.hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write(s.doc.Load().([]byte))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t testing.TB, keys ...jose.JSONWebKey) {
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	assert.NoError(t, err)
	s.doc.Store(doc)
}

func public(kid, alg string, priv crypto.Signer) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, kid string, priv any, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	assert.NoError(t, err)
	token, err := josejwt.Signed(signer).Claims(claims).Serialize()
	assert.NoError(t, err)
	return token
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func claimsAt(now time.Time, sub string) josejwt.Claims {
	return josejwt.Claims{
		Issuer:   issuer,
		Subject:  sub,
		Audience: josejwt.Audience{audience},
		Expiry:   josejwt.NewNumericDate(now.Add(time.Hour)),
		IssuedAt: josejwt.NewNumericDate(now),
	}
}

type env struct {
	srv      *jwksServer
	keys     *jwt.JWKS
	verifier *jwt.Verifier
	clock    *clock
}

func newEnv(t *testing.T, jwksOpts []jwt.JWKSOption, opts ...jwt.Option) *env {
	t.Helper()
	testKeys(t)
	e := &env{clock: newClock()}
	e.srv = newJWKSServer(t, public("rsa-1", "RS256", rsaKey), public("ec-1", "ES256", ecKey), public("ed-1", "EdDSA", edKey))
	jwksOpts = append([]jwt.JWKSOption{jwt.WithHTTPClient(e.srv.Client()), jwt.WithRefreshInterval(0), jwt.WithJWKSClock(e.clock.Now)}, jwksOpts...)
	keys, err := jwt.NewJWKS(e.srv.URL, jwksOpts...)
	assert.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	e.keys = keys
	opts = append([]jwt.Option{jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithClock(e.clock.Now)}, opts...)
	v, err := jwt.NewVerifier(keys, []string{"RS256", "ES256", "EdDSA"}, opts...)
	assert.NoError(t, err)
	e.verifier = v
	return e
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestMiddlewareMatrix verifies RS256, ES256 and EdDSA tokens through the
// authn middleware in every protocol and RPC kind.
func TestMiddlewareMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var calls atomic.Int64
	var lastSub atomic.Value
	ps := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
		calls.Add(1)
		claims, ok := authn.InfoAs[*jwt.Claims](ctx)
		if ok {
			lastSub.Store(claims.Subject)
		}
		return nil
	}}
	h := authn.NewMiddleware(e.verifier.AuthFunc()).Wrap(testkit.NewMux(ps))
	now := e.clock.Now()
	tokens := map[string]string{
		"RS256": sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(now, "rs")),
		"ES256": sign(t, jose.ES256, "ec-1", ecKey, claimsAt(now, "es")),
		"EdDSA": sign(t, jose.EdDSA, "ed-1", edKey, claimsAt(now, "ed")),
	}
	testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			for alg, token := range tokens {
				t.Run(testkit.StreamTypeName(st)+"/handler/"+alg, func(t *testing.T) {
					header := http.Header{"Authorization": {"Bearer " + token}}
					_, _, err := testkit.Call(ctxTimeout(t), c.Client(), st, header)
					assert.NoError(t, err)
					assert.Equal(t, lastSub.Load(), any(map[string]string{"RS256": "rs", "ES256": "es", "EdDSA": "ed"}[alg]))
				})
			}
			t.Run(testkit.StreamTypeName(st)+"/handler/missing", func(t *testing.T) {
				before := calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), c.Client(), st, nil)
				assert.Code(t, err, connect.CodeUnauthenticated)
				var cerr *connect.Error
				_ = assertAs(err, &cerr)
				assert.Equal(t, cerr.Meta().Get("Www-Authenticate"), `Bearer realm="api"`)
				assert.Equal(t, calls.Load(), before)
			})
		}
	})
}

func assertAs(err error, target **connect.Error) bool {
	ce, ok := err.(*connect.Error)
	*target = ce
	return ok
}

// TestRejections checks every way a token can be wrong gives the same
// Unauthenticated error.
func TestRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []jwt.JWKSOption{jwt.WithRefetchInterval(time.Hour)}, jwt.WithLeeway(0))
	now := e.clock.Now()
	good := claimsAt(now, "alice")
	with := func(f func(*josejwt.Claims)) josejwt.Claims { c := good; f(&c); return c }
	// An HS256 token whose secret is the RSA public key: algorithm confusion.
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	assert.NoError(t, err)
	confused := sign(t, jose.HS256, "rsa-1", der, good)
	// alg "none", built by hand since go-jose cannot sign it.
	payload, _ := json.Marshal(good)
	none := b64(`{"alg":"none","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	// Correct RS256 token with its payload swapped.
	valid := sign(t, jose.RS256, "rsa-1", rsaKey, good)
	parts := strings.Split(valid, ".")
	otherPayload, _ := json.Marshal(with(func(c *josejwt.Claims) { c.Subject = "mallory" }))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(otherPayload) + "." + parts[2]
	// HS256 signed by hand with the DER as secret, header naming RS256 key.
	mac := hmac.New(sha256.New, der)
	head := b64(`{"alg":"HS256","kid":"rsa-1"}`) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac.Write([]byte(head))
	confused2 := head + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	cases := map[string]string{
		"expired":          sign(t, jose.RS256, "rsa-1", rsaKey, with(func(c *josejwt.Claims) { c.Expiry = josejwt.NewNumericDate(now.Add(-time.Second)) })),
		"no_exp":           sign(t, jose.RS256, "rsa-1", rsaKey, with(func(c *josejwt.Claims) { c.Expiry = nil })),
		"not_yet_valid":    sign(t, jose.RS256, "rsa-1", rsaKey, with(func(c *josejwt.Claims) { c.NotBefore = josejwt.NewNumericDate(now.Add(time.Minute)) })),
		"wrong_issuer":     sign(t, jose.RS256, "rsa-1", rsaKey, with(func(c *josejwt.Claims) { c.Issuer = "https://evil.test/" })),
		"wrong_audience":   sign(t, jose.RS256, "rsa-1", rsaKey, with(func(c *josejwt.Claims) { c.Audience = josejwt.Audience{"other"} })),
		"alg_not_listed":   sign(t, jose.ES384, "ec-1", mustEC(t, elliptic.P384()), good),
		"key_alg_mismatch": sign(t, jose.PS256, "rsa-1", rsaKey, good), // PS256 not allowed
		"wrong_key_type":   sign(t, jose.ES256, "rsa-1", ecKey, good),  // kid names an RSA key
		"unknown_kid":      sign(t, jose.RS256, "rsa-9", rsaKey2, good),
		"other_key":        sign(t, jose.RS256, "rsa-1", rsaKey2, good),
		"hs_confusion":     confused,
		"hs_confusion_2":   confused2,
		"none":             none,
		"tampered":         tampered,
		"garbage":          "not.a.jwt",
		"empty_parts":      "..",
		"huge":             strings.Repeat("a", 9000),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.verifier.Verify(ctxTimeout(t), token)
			assert.Code(t, err, connect.CodeUnauthenticated)
			assert.Equal(t, err.Error(), "unauthenticated: invalid credentials")
		})
	}
	claims, err := e.verifier.Verify(ctxTimeout(t), valid)
	assert.NoError(t, err)
	assert.Equal(t, claims.Subject, "alice")
	assert.Equal(t, claims.Extra["sub"], any("alice"))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestNewVerifierAllowList(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()))
	assert.NoError(t, err)
	defer keys.Close()
	for _, algs := range [][]string{nil, {}, {"none"}, {"HS256"}, {"RS256", "HS512"}, {"rs256"}} {
		_, err := jwt.NewVerifier(keys, algs)
		assert.Error(t, err, algs)
	}
	_, err = jwt.NewVerifier(nil, []string{"RS256"})
	assert.Error(t, err)
	_, err = jwt.NewJWKS("")
	assert.Error(t, err)
}

// TestLeeway checks exp and nbf against the injected clock with leeway.
func TestLeeway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, jwt.WithLeeway(30*time.Second), jwt.WithCacheSize(0))
	now := e.clock.Now()
	c := claimsAt(now, "alice")
	c.Expiry = josejwt.NewNumericDate(now.Add(time.Minute))
	c.NotBefore = josejwt.NewNumericDate(now.Add(20 * time.Second))
	token := sign(t, jose.ES256, "ec-1", ecKey, c)
	_, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err, "nbf within leeway")
	e.clock.Add(85 * time.Second) // 25 s past exp
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err, "exp within leeway")
	e.clock.Add(10 * time.Second) // 35 s past exp
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.Code(t, err, connect.CodeUnauthenticated)
}

// TestCacheUntilExpiry checks that a cached token stops being accepted at
// its expiry.
func TestCacheUntilExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, jwt.WithLeeway(0))
	now := e.clock.Now()
	token := sign(t, jose.EdDSA, "ed-1", edKey, claimsAt(now, "alice"))
	first, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)
	second, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)
	assert.True(t, first == second, "second verification was not served from the cache")
	e.clock.Add(time.Hour + time.Second)
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.Code(t, err, connect.CodeUnauthenticated)
}

// TestRotation rotates the served keys mid-test: a token with a new key ID
// triggers one refetch; further unknown key IDs within the refetch interval
// fail at once without fetching; after the interval a refetch is allowed.
func TestRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []jwt.JWKSOption{jwt.WithRefetchInterval(time.Minute)}, jwt.WithCacheSize(0))
	now := e.clock.Now()
	old := sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(now, "old"))
	_, err := e.verifier.Verify(ctxTimeout(t), old)
	assert.NoError(t, err)

	e.srv.setKeys(t, public("rsa-2", "RS256", rsaKey2), public("ec-1", "ES256", ecKey))
	fresh := sign(t, jose.RS256, "rsa-2", rsaKey2, claimsAt(now, "new"))
	before := e.srv.fetches.Load()
	claims, err := e.verifier.Verify(ctxTimeout(t), fresh)
	assert.NoError(t, err)
	assert.Equal(t, claims.Subject, "new")
	assert.Equal(t, e.srv.fetches.Load(), before+1)
	_, err = e.verifier.Verify(ctxTimeout(t), old)
	assert.Code(t, err, connect.CodeUnauthenticated) // rsa-1 is gone

	// More unknown key IDs fail fast, without fetching and without
	// waiting for the limiter (the caller sets no deadline).
	for _, kid := range []string{"x1", "x2", "x3"} {
		token := sign(t, jose.RS256, kid, rsaKey2, claimsAt(now, "x"))
		returnsWithin(t, 5*time.Second, func() {
			_, err := e.verifier.Verify(context.Background(), token)
			assert.Code(t, err, connect.CodeUnauthenticated)
		})
	}
	assert.Equal(t, e.srv.fetches.Load(), before+1, "refetch not rate limited")

	e.srv.setKeys(t, public("rsa-3", "RS256", rsaKey))
	e.clock.Add(time.Minute)
	_, err = e.verifier.Verify(ctxTimeout(t), sign(t, jose.RS256, "rsa-3", rsaKey, claimsAt(now, "third")))
	assert.NoError(t, err)
	assert.Equal(t, e.srv.fetches.Load(), before+2)
}

// TestRotationCanceledCaller: the first request to carry a rotated key ID
// has already gone away (its context is canceled). The refetch it triggers
// still reaches the server, so the next request with that key is verified
// rather than refused for the rest of the refetch interval.
func TestRotationCanceledCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []jwt.JWKSOption{jwt.WithRefetchInterval(time.Hour)}, jwt.WithCacheSize(0))
	now := e.clock.Now()
	_, err := e.verifier.Verify(ctxTimeout(t), sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(now, "old")))
	assert.NoError(t, err)

	e.srv.setKeys(t, public("rsa-1", "RS256", rsaKey), public("rsa-2", "RS256", rsaKey2))
	fresh := sign(t, jose.RS256, "rsa-2", rsaKey2, claimsAt(now, "new"))
	before := e.srv.fetches.Load()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = e.verifier.Verify(gone, fresh)
	assert.Equal(t, e.srv.fetches.Load(), before+1, "the canceled caller's refetch reached the server")
	claims, err := e.verifier.Verify(ctxTimeout(t), fresh)
	assert.NoError(t, err)
	assert.Equal(t, claims.Subject, "new")
}

// TestBackgroundRefresh rotates the keys and waits for the background
// refresh to pick them up, with unknown-kid refetches exhausted.
func TestBackgroundRefresh(t *testing.T) {
	t.Parallel()
	testKeys(t)
	srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	c := newClock()
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(10*time.Millisecond),
		jwt.WithRefetchInterval(time.Hour), jwt.WithJWKSClock(c.Now))
	assert.NoError(t, err)
	defer keys.Close()
	v, err := jwt.NewVerifier(keys, []string{"RS256"}, jwt.WithClock(c.Now))
	assert.NoError(t, err)
	now := c.Now()
	// Use up the one allowed refetch.
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "nope", rsaKey, claimsAt(now, "x")))
	assert.Code(t, err, connect.CodeUnauthenticated)

	srv.setKeys(t, public("rsa-2", "RS256", rsaKey2))
	token := sign(t, jose.RS256, "rsa-2", rsaKey2, claimsAt(now, "new"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err = v.Verify(ctxTimeout(t), token); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh never picked up the rotated key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	assert.NoError(t, keys.Close())
	assert.NoError(t, keys.Close()) // idempotent
}

// TestKeepLastGood checks failed fetches (HTTP error, bad JSON, too large,
// no usable keys, timeout) keep the last good key set.
func TestKeepLastGood(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []jwt.JWKSOption{jwt.WithMaxBodyBytes(4096), jwt.WithFetchTimeout(200 * time.Millisecond)}, jwt.WithCacheSize(0))
	token := sign(t, jose.ES256, "ec-1", ecKey, claimsAt(e.clock.Now(), "alice"))
	assert.NoError(t, e.keys.Refresh(ctxTimeout(t)))
	_, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)
	failures := map[string]func(){
		"http_500": func() { e.srv.status.Store(500) },
		"bad_json": func() { e.srv.status.Store(200); e.srv.doc.Store([]byte("{not json")) },
		"too_large": func() {
			// A valid set (of other keys) that is only wrong in its size.
			e.srv.status.Store(200)
			e.srv.setKeys(t, public("rsa-2", "RS256", rsaKey2))
			doc := e.srv.doc.Load().([]byte)
			e.srv.doc.Store(append(doc[:len(doc)-1:len(doc)-1], []byte(`,"pad":"`+strings.Repeat("x", 4096)+`"}`)...))
		},
		"no_keys":    func() { e.srv.doc.Store([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)) },
		"empty_body": func() { e.srv.doc.Store([]byte{}) },
	}
	for name, fail := range failures {
		fail()
		assert.Error(t, e.keys.Refresh(ctxTimeout(t)), name)
		_, err := e.verifier.Verify(ctxTimeout(t), token)
		assert.NoError(t, err, name)
	}
	t.Run("timeout", func(t *testing.T) {
		e.srv.hang = make(chan struct{})
		defer close(e.srv.hang)
		// The caller sets no deadline: only the fetch timeout ends it.
		returnsWithin(t, 5*time.Second, func() {
			assert.Error(t, e.keys.Refresh(context.Background()))
		})
		_, err = e.verifier.Verify(ctxTimeout(t), token)
		assert.NoError(t, err)
	})
}

// returnsWithin runs f and fails the test if it has not returned after d
// (a hang guard: the bound is far above what f should take).
func returnsWithin(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
	}
}

// TestUnsupportedKeyInSet checks one undecodable or unusable key does not
// reject the others.
func TestUnsupportedKeyInSet(t *testing.T) {
	t.Parallel()
	testKeys(t)
	good, err := json.Marshal(public("ec-1", "ES256", ecKey))
	assert.NoError(t, err)
	privRSA, err := json.Marshal(jose.JSONWebKey{Key: rsaKey, KeyID: "priv"})
	assert.NoError(t, err)
	encKey, err := json.Marshal(jose.JSONWebKey{Key: rsaKey.Public(), KeyID: "enc", Use: "enc"})
	assert.NoError(t, err)
	srv := newJWKSServer(t)
	srv.doc.Store([]byte(`{"keys":[{"kty":"weird","kid":"w"},{"kty":"EC","crv":"P-999","kid":"c","x":"AA","y":"AA"},` +
		`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},` + string(privRSA) + `,` + string(encKey) + `,` + string(good) + `]}`))
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefetchInterval(time.Hour))
	assert.NoError(t, err)
	defer keys.Close()
	assert.NoError(t, keys.Refresh(ctxTimeout(t)))
	v, err := jwt.NewVerifier(keys, []string{"ES256", "RS256"})
	assert.NoError(t, err)
	now := time.Now()
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.ES256, "ec-1", ecKey, claimsAt(now, "a")))
	assert.NoError(t, err)
	// Private and encryption keys are never used, even for a valid signature.
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "priv", rsaKey, claimsAt(now, "a")))
	assert.Code(t, err, connect.CodeUnauthenticated)
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "enc", rsaKey, claimsAt(now, "a")))
	assert.Code(t, err, connect.CodeUnauthenticated)
}

// TestCloseWaitsForRefresh stops a key set while its background refresh is
// inside the (injected) HTTP client: Close must return only after that
// fetch has returned and the goroutine has ended.
func TestCloseWaitsForRefresh(t *testing.T) {
	t.Parallel()
	testKeys(t)
	srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	transport := &stallingTransport{base: srv.Client().Transport, stalled: make(chan struct{})}
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(&http.Client{Transport: transport}),
		jwt.WithRefreshInterval(time.Millisecond))
	assert.NoError(t, err)
	select {
	case <-transport.stalled:
	case <-time.After(10 * time.Second):
		_ = keys.Close()
		t.Fatal("the background refresh never ran through the injected client")
	}
	assert.NoError(t, keys.Close())
	assert.True(t, transport.returned.Load(), "Close returned while a refresh was still running")
	assert.Equal(t, srv.fetches.Load(), int64(1), "only the first fetch reaches the server")
}

// stallingTransport serves the first request and stalls every later one
// until its context ends, then takes a little longer to return.
type stallingTransport struct {
	base     http.RoundTripper
	calls    atomic.Int64
	stalled  chan struct{}
	once     sync.Once
	returned atomic.Bool
}

func (s *stallingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.calls.Add(1) == 1 {
		return s.base.RoundTrip(req)
	}
	s.once.Do(func() { close(s.stalled) })
	<-req.Context().Done()
	time.Sleep(50 * time.Millisecond)
	s.returned.Store(true)
	return nil, req.Context().Err()
}

// TestAlgorithmAllowList checks that only the listed algorithms verify, even
// with a valid signature by a key of the set, and that a key's own "alg"
// binds it to that algorithm (an RS256 key never verifies PS256).
func TestAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	testKeys(t)
	c := newClock()
	now := c.Now()
	srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey), public("rsa-any", "", rsaKey2), public("ec-1", "ES256", ecKey))
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0), jwt.WithJWKSClock(c.Now))
	assert.NoError(t, err)
	defer keys.Close()
	verify := func(algs []string, token string) error {
		v, err := jwt.NewVerifier(keys, algs, jwt.WithClock(c.Now))
		assert.NoError(t, err)
		_, err = v.Verify(ctxTimeout(t), token)
		return err
	}
	es256 := sign(t, jose.ES256, "ec-1", ecKey, claimsAt(now, "a"))
	rs256 := sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(now, "a"))
	assert.NoError(t, verify([]string{"ES256"}, es256))
	assert.Code(t, verify([]string{"RS256"}, es256), connect.CodeUnauthenticated)
	assert.NoError(t, verify([]string{"RS256"}, rs256))
	assert.Code(t, verify([]string{"ES256", "EdDSA"}, rs256), connect.CodeUnauthenticated)
	// rsa-1 says "alg":"RS256"; rsa-any names no algorithm.
	assert.Code(t, verify([]string{"RS256", "PS256"}, sign(t, jose.PS256, "rsa-1", rsaKey, claimsAt(now, "a"))), connect.CodeUnauthenticated)
	assert.NoError(t, verify([]string{"RS256", "PS256"}, sign(t, jose.PS256, "rsa-any", rsaKey2, claimsAt(now, "a"))))
}

// TestCachedTokenDroppedWhenKeyLeaves: a cached token is accepted only while
// the key that verified it is in the key set. A refresh that keeps the key
// keeps the token cached; once a refresh drops the key (after a compromise,
// say), the token is refused at once, not at its "exp", which whoever
// signed it chose.
func TestCachedTokenDroppedWhenKeyLeaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []jwt.JWKSOption{jwt.WithRefetchInterval(time.Hour)})
	claims := claimsAt(e.clock.Now(), "forged")
	claims.Expiry = josejwt.NewNumericDate(e.clock.Now().Add(100 * 365 * 24 * time.Hour))
	token := sign(t, jose.RS256, "rsa-1", rsaKey, claims)
	first, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)

	assert.NoError(t, e.keys.Refresh(ctxTimeout(t))) // same keys, new set
	second, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)
	assert.True(t, first == second, "a refresh that kept the key emptied the cache")

	// rsa-1 is replaced by another key under the same ID, then removed.
	e.srv.setKeys(t, public("rsa-1", "RS256", rsaKey2), public("ec-1", "ES256", ecKey))
	assert.NoError(t, e.keys.Refresh(ctxTimeout(t)))
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.Code(t, err, connect.CodeUnauthenticated, "same key ID, other key")
	e.srv.setKeys(t, public("ec-1", "ES256", ecKey))
	assert.NoError(t, e.keys.Refresh(ctxTimeout(t)))
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.Code(t, err, connect.CodeUnauthenticated, "key removed")
}

// TestWithType: WithType requires one of the listed "typ" headers,
// compared case-insensitively and with or without "application/"; without
// it any "typ", or none, is accepted.
func TestWithType(t *testing.T) {
	t.Parallel()
	typed := func(t *testing.T, typ string) string {
		t.Helper()
		opts := (&jose.SignerOptions{}).WithHeader("kid", "ec-1")
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ecKey}, opts)
		assert.NoError(t, err)
		token, err := josejwt.Signed(signer).Claims(claimsAt(newClock().Now(), "alice")).Serialize()
		assert.NoError(t, err)
		return token
	}
	strict := newEnv(t, nil, jwt.WithType("at+jwt"), jwt.WithCacheSize(0))
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"} {
		_, err := strict.verifier.Verify(ctxTimeout(t), typed(t, typ))
		assert.NoError(t, err, typ)
	}
	for _, typ := range []string{"", "JWT", "dpop+jwt", "application/jwt", "at+jwt ", "text/at+jwt", "application/application/at+jwt"} {
		_, err := strict.verifier.Verify(ctxTimeout(t), typed(t, typ))
		assert.Code(t, err, connect.CodeUnauthenticated, typ)
	}
	migrating := newEnv(t, nil, jwt.WithType("application/at+jwt", ""), jwt.WithCacheSize(0))
	for _, typ := range []string{"at+jwt", ""} {
		_, err := migrating.verifier.Verify(ctxTimeout(t), typed(t, typ))
		assert.NoError(t, err, typ)
	}
	_, err := migrating.verifier.Verify(ctxTimeout(t), typed(t, "JWT"))
	assert.Code(t, err, connect.CodeUnauthenticated)
	permissive := newEnv(t, nil, jwt.WithCacheSize(0))
	for _, typ := range []string{"", "JWT", "at+jwt", "dpop+jwt"} {
		_, err := permissive.verifier.Verify(ctxTimeout(t), typed(t, typ))
		assert.NoError(t, err, typ)
	}
}

// TestAuthFuncOtherScheme: RFC 6750 section 3.1 says a request that uses
// another authentication scheme gets the challenge without an error code,
// like one with no credentials; a malformed bearer header gets
// error="invalid_token".
func TestAuthFuncOtherScheme(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	h := authn.NewMiddleware(e.verifier.AuthFunc()).Wrap(testkit.NewMux(&testkit.PingServer{}))
	client := testkit.NewClient(testkit.NewServer(t, h, testkit.H2C), testkit.ConnectJSON)
	for value, want := range map[string]string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")): `Bearer realm="api"`,
		"DPoP abc":  `Bearer realm="api"`,
		"Bearerx a": `Bearer realm="api"`,
		"Bearer":    `Bearer realm="api", error="invalid_token"`,
		"bearer":    `Bearer realm="api", error="invalid_token"`,
		"Bearer x":  `Bearer realm="api", error="invalid_token"`,
	} {
		_, _, err := testkit.Call(ctxTimeout(t), client, connect.StreamTypeUnary, http.Header{"Authorization": {value}})
		assert.Code(t, err, connect.CodeUnauthenticated, value)
		assertChallengeIs(t, err, want)
	}
}

// TestCacheHonoursNegativeLeeway: with a negative leeway a token is refused
// that long before its "exp"; a cached token is refused then too, as it
// would be if verified afresh.
func TestCacheHonoursNegativeLeeway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, jwt.WithLeeway(-time.Minute))
	claims := claimsAt(e.clock.Now(), "alice") // exp in an hour
	claims.IssuedAt = josejwt.NewNumericDate(e.clock.Now().Add(-2 * time.Minute))
	token := sign(t, jose.ES256, "ec-1", ecKey, claims)
	_, err := e.verifier.Verify(ctxTimeout(t), token)
	assert.NoError(t, err)
	e.clock.Add(time.Hour - 30*time.Second)
	_, err = e.verifier.Verify(ctxTimeout(t), token)
	assert.Code(t, err, connect.CodeUnauthenticated)
}

// TestKeyOpsHonoured: a key whose "key_ops" (RFC 7517 section 4.3) does
// not include "verify", such as an encryption key that says what it is
// for only there, never verifies a token, as one with "use":"enc" does
// not; one whose "key_ops" includes "verify" does.
func TestKeyOpsHonoured(t *testing.T) {
	t.Parallel()
	testKeys(t)
	withOps := func(key jose.JSONWebKey, ops ...string) string {
		b, err := json.Marshal(key)
		assert.NoError(t, err)
		var m map[string]any
		assert.NoError(t, json.Unmarshal(b, &m))
		m["key_ops"] = ops
		b, err = json.Marshal(m)
		assert.NoError(t, err)
		return string(b)
	}
	srv := newJWKSServer(t)
	srv.doc.Store([]byte(`{"keys":[` + withOps(public("enc", "", rsaKey), "encrypt", "wrapKey") + `,` +
		withOps(public("ver", "", rsaKey2), "verify") + `]}`))
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0), jwt.WithRefetchInterval(time.Hour))
	assert.NoError(t, err)
	defer keys.Close()
	v, err := jwt.NewVerifier(keys, []string{"RS256"})
	assert.NoError(t, err)
	now := time.Now()
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "ver", rsaKey2, claimsAt(now, "a")))
	assert.NoError(t, err)
	_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "enc", rsaKey, claimsAt(now, "a")))
	assert.Code(t, err, connect.CodeUnauthenticated)
}
