package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func basicHeader(user, pass string) http.Header {
	return http.Header{"Authorization": []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
}

func mustHash(t testing.TB, secret string) string {
	t.Helper()
	h, err := authn.HashSecret(secret, 1000)
	assert.NoError(t, err)
	return h
}

// TestBasicAuth checks Basic authentication against hashed secrets in every
// protocol and RPC kind.
func TestBasicAuth(t *testing.T) {
	t.Parallel()
	auth, err := authn.BasicAuth(map[string]string{"alice": mustHash(t, "correct horse")}, authn.WithRealm("test"))
	assert.NoError(t, err)
	f := newFixture(auth)
	testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), c.Client(), st, basicHeader("alice", "wrong"))
				assert.Code(t, err, connect.CodeUnauthenticated)
				assertChallenge(t, err, `Basic realm="test", charset="UTF-8"`)
				assert.Equal(t, f.calls.Load(), before, "handler ran")
				// HMAC pads keys with zeros: "correct horse\x00" hashes
				// like "correct horse" and must be turned away before.
				_, _, err = testkit.Call(ctxTimeout(t), c.Client(), st, basicHeader("alice", "correct horse\x00"))
				assert.Code(t, err, connect.CodeUnauthenticated)
				assert.Equal(t, f.calls.Load(), before, "handler ran")
				_, _, err = testkit.Call(ctxTimeout(t), c.Client(), st, basicHeader("alice", "correct horse"))
				assert.NoError(t, err)
				assert.Equal(t, f.lastUser.Load(), any("alice"))
			})
		}
	})
}

func TestBasicAuthBadHash(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "plain", "$pbkdf2-sha256$i=0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$pbkdf2-sha256$i=10$!!$AAAA"} {
		_, err := authn.BasicAuth(map[string]string{"u": h})
		assert.Error(t, err, h)
	}
}

// TestAPIKeys checks API keys in a header, including repeated headers.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.APIKeys("x-api-key", map[string]any{"key-1": wantUser}))
	testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				before := f.calls.Load()
				_, _, err := testkit.Call(ctxTimeout(t), c.Client(), st, http.Header{"X-Api-Key": {"key-2"}})
				assert.Code(t, err, connect.CodeUnauthenticated)
				assertChallenge(t, err, `APIKey realm="api", header="X-Api-Key"`)
				_, _, err = testkit.Call(ctxTimeout(t), c.Client(), st, http.Header{"X-Api-Key": {"key-1", "key-2"}})
				assert.Code(t, err, connect.CodeUnauthenticated)
				assert.Equal(t, f.calls.Load(), before, "handler ran")
				_, _, err = testkit.Call(ctxTimeout(t), c.Client(), st, http.Header{"X-Api-Key": {"key-1"}})
				assert.NoError(t, err)
				assert.Equal(t, f.lastUser.Load(), any(wantUser))
			})
		}
	})
}

// TestErrorsRevealNothing sends credentials wrong in different ways and
// checks every rejection reads the same: same code, message and challenge.
func TestErrorsRevealNothing(t *testing.T) {
	t.Parallel()
	basic, err := authn.BasicAuth(map[string]string{"alice": mustHash(t, "pw")})
	assert.NoError(t, err)
	cases := map[string]struct {
		auth    authn.AuthFunc
		headers []http.Header
	}{
		"bearer": {
			auth: authn.BearerTokens(map[string]any{goodToken: wantUser}),
			headers: []http.Header{
				bearer(goodToken[:len(goodToken)-1]), // a prefix
				bearer(goodToken + "x"),              // longer
				bearer("x" + goodToken[1:]),          // first byte wrong
				bearer("short"),
				{"Authorization": {"Bearer"}},
				{"Authorization": {"bearer  " + goodToken + " "}},
			},
		},
		"basic": {
			auth: basic,
			headers: []http.Header{
				basicHeader("alice", "wrong"),
				basicHeader("bob", "pw"),
				basicHeader("alicex", "pw"),
				basicHeader("", ""),
				{"Authorization": {"Basic !!!"}},
				{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon"))}},
				bearer("pw"),
			},
		},
		"api_key": {
			auth: authn.APIKeys("X-Key", map[string]any{"k1": wantUser}),
			headers: []http.Header{
				{"X-Key": {"k"}}, {"X-Key": {"k1x"}}, {"X-Key": {"k2"}}, {"X-Key": {"k1", "k1"}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(tc.auth)
			srv := testkit.NewServer(t, f.handler, testkit.H2C)
			client := testkit.NewClient(srv, testkit.ConnectJSON)
			var first *connect.Error
			for i, h := range tc.headers {
				err := ping(ctxTimeout(t), client, h)
				assert.Code(t, err, connect.CodeUnauthenticated, i)
				var cerr *connect.Error
				assert.True(t, errors.As(err, &cerr))
				assert.Equal(t, cerr.Message(), "invalid credentials", i)
				if first == nil {
					first = cerr
					continue
				}
				assert.Equal(t, cerr.Meta().Get("Www-Authenticate"), first.Meta().Get("Www-Authenticate"), i)
			}
			err := ping(ctxTimeout(t), client, nil)
			assert.Code(t, err, connect.CodeUnauthenticated)
			assert.Contains(t, err.Error(), "credentials required")
			assert.Equal(t, f.calls.Load(), int64(0))
		})
	}
}

// TestBearerTokensOtherScheme: RFC 6750 section 3.1 says a request that
// uses another authentication scheme gets the challenge without an error
// code, like one with no credentials; a malformed bearer header, or two
// Authorization headers, get error="invalid_token".
func TestBearerTokensOtherScheme(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.BearerTokens(map[string]any{goodToken: wantUser}))
	srv := testkit.NewServer(t, f.handler, testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectJSON)
	for _, h := range []http.Header{
		{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw"))}},
		{"Authorization": {"Digest username=\"alice\""}},
		{"Authorization": {"Bearerx " + goodToken}},
		{"Authorization": {"DPoP " + goodToken}},
	} {
		err := ping(ctxTimeout(t), client, h)
		assert.Code(t, err, connect.CodeUnauthenticated, h)
		assertChallenge(t, err, `Bearer realm="api"`)
	}
	for _, h := range []http.Header{
		{"Authorization": {"Bearer"}},
		{"Authorization": {"bearer"}},
		{"Authorization": {"Bearer " + goodToken, "Basic Zm9vOmJhcg=="}},
	} {
		err := ping(ctxTimeout(t), client, h)
		assert.Code(t, err, connect.CodeUnauthenticated, h)
		assertChallenge(t, err, `Bearer realm="api", error="invalid_token"`)
	}
	assert.Equal(t, f.calls.Load(), int64(0))
}

// TestMutualTLS serves over TLS that verifies client certificates against a
// test CA and checks the identity comes from the verified chain.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, caKey := newCert(t, "test-ca", nil, nil)
	client, clientKey := newCert(t, "client-alice", ca, caKey)
	rogueCA, rogueKey := newCert(t, "rogue-ca", nil, nil)
	rogue, rogueClientKey := newCert(t, "client-alice", rogueCA, rogueKey)

	auth := authn.MutualTLS(func(chain []*x509.Certificate) (any, error) {
		return chain[0].Subject.CommonName, nil
	})
	f := newFixture(auth)
	srv := httptest.NewUnstartedServer(f.handler)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	newClient := func(cert *x509.Certificate, key *ecdsa.PrivateKey) testv1connect.TestServiceClient {
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
		}
		transport := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
		t.Cleanup(transport.CloseIdleConnections)
		return testv1connect.NewTestServiceClient(&http.Client{Transport: transport}, srv.URL, connect.WithGRPC())
	}
	for _, st := range testkit.StreamTypes() {
		t.Run("tls/grpc/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
			_, _, err := testkit.Call(ctxTimeout(t), newClient(nil, nil), st, nil)
			assert.Code(t, err, connect.CodeUnauthenticated)
			_, _, err = testkit.Call(ctxTimeout(t), newClient(client, clientKey), st, nil)
			assert.NoError(t, err)
			assert.Equal(t, f.lastUser.Load(), any("client-alice"))
		})
	}
	t.Run("rogue_ca", func(t *testing.T) {
		before := f.calls.Load()
		_, _, err := testkit.Call(ctxTimeout(t), newClient(rogue, rogueClientKey), connect.StreamTypeUnary, nil)
		assert.Error(t, err) // the handshake fails: VerifyClientCertIfGiven rejects unknown CAs
		assert.Equal(t, f.calls.Load(), before)
	})
	t.Run("plain_http", func(t *testing.T) {
		plain := testkit.NewServer(t, f.handler, testkit.H2C)
		err := ping(ctxTimeout(t), testkit.NewClient(plain, testkit.ConnectJSON), nil)
		assert.Code(t, err, connect.CodeUnauthenticated)
	})
}

// newCert makes a certificate for cn signed by parent (self-signed CA when
// parent is nil).
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	assert.NoError(t, err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	assert.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	assert.NoError(t, err)
	return cert, key
}

// TestTokenComparison checks the constant-time comparison at every length
// around its 8-byte words: only the exact token matches.
func TestTokenComparison(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 20; n++ {
		secret := strings.Repeat("s", n-1) + "z"
		auth := authn.BearerTokens(map[string]any{secret: "ok", "other-token-entirely": "other"})
		check := func(presented string, want any) {
			req := &http.Request{Header: http.Header{"Authorization": {"Bearer " + presented}}}
			info, err := auth(context.Background(), req)
			if want == nil {
				assert.Error(t, err, n, presented)
				return
			}
			assert.NoError(t, err, n)
			assert.Equal(t, info, want, n)
		}
		check(secret, any("ok"))
		check("other-token-entirely", any("other"))
		check(secret[:n-1], nil)
		check(secret+"z", nil)
		check(secret+"zzzzzzzzz", nil)
		for i := range n {
			b := []byte(secret)
			b[i] ^= 0x01
			check(string(b), nil)
			b[i] ^= 0x80 // only the high bit differs from the original
			b[i] ^= 0x01
			check(string(b), nil)
		}
	}
}
