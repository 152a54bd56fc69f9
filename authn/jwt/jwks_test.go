package jwt_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/authn/jwt"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestRefetchIntervalZeroNeverRefetches: with WithRefetchInterval(0) or
// less, tokens with unknown key IDs never make the key set fetch, however
// many arrive (rate.Every(0) would mean "no limit").
func TestRefetchIntervalZeroNeverRefetches(t *testing.T) {
	t.Parallel()
	testKeys(t)
	for _, d := range []time.Duration{0, -time.Second} {
		srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
		keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0), jwt.WithRefetchInterval(d))
		assert.NoError(t, err)
		defer keys.Close()
		v, err := jwt.NewVerifier(keys, []string{"RS256"})
		assert.NoError(t, err)
		before := srv.fetches.Load()
		for _, kid := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			_, err := v.Verify(ctxTimeout(t), sign(t, jose.RS256, kid, rsaKey2, claimsAt(time.Now(), "x")))
			assert.Code(t, err, connect.CodeUnauthenticated, d, kid)
		}
		assert.Equal(t, srv.fetches.Load(), before, "unknown key IDs fetched the set", d)
		_, err = v.Verify(ctxTimeout(t), sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(time.Now(), "x")))
		assert.NoError(t, err, d)
	}
}

// TestKeySetUnavailable: when no key fits a token and the key set cannot be
// fetched (never was, or the refetch the token triggered failed), the
// token was not judged: the error is Unavailable, without a challenge,
// through the middleware too. Once the set is fetched, an unknown key ID is
// Unauthenticated again, and the token that got Unavailable is accepted.
func TestKeySetUnavailable(t *testing.T) {
	t.Parallel()
	testKeys(t)
	c := newClock()
	srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	srv.status.Store(http.StatusServiceUnavailable)
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0),
		jwt.WithRefetchInterval(time.Minute), jwt.WithJWKSClock(c.Now))
	assert.NoError(t, err)
	defer keys.Close()
	v, err := jwt.NewVerifier(keys, []string{"RS256"}, jwt.WithClock(c.Now))
	assert.NoError(t, err)
	ps := &testkit.PingServer{}
	client := testkit.NewClient(testkit.NewServer(t, authn.NewMiddleware(v.AuthFunc()).Wrap(testkit.NewMux(ps)), testkit.H2C), testkit.ConnectJSON)
	call := func(token string) error {
		_, _, err := testkit.Call(ctxTimeout(t), client, connect.StreamTypeUnary, http.Header{"Authorization": {"Bearer " + token}})
		return err
	}
	assertUnavailable := func(err error, msg string) {
		t.Helper()
		assert.Code(t, err, connect.CodeUnavailable, msg)
		var cerr *connect.Error
		assert.True(t, errors.As(err, &cerr), msg)
		assert.Equal(t, cerr.Meta().Get("Www-Authenticate"), "", msg)
	}
	valid := sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(c.Now(), "alice"))

	// No set was ever fetched: with the refetch (which fails) and without.
	_, err = v.Verify(ctxTimeout(t), valid)
	assertUnavailable(err, "first fetch failed, refetch failed")
	assertUnavailable(call(valid), "first fetch failed, refetch rate limited")

	// The set is fetched: an unknown key ID is the token's fault.
	srv.status.Store(http.StatusOK)
	assert.NoError(t, keys.Refresh(ctxTimeout(t)))
	assert.NoError(t, call(valid))
	unknown := sign(t, jose.RS256, "rsa-2", rsaKey2, claimsAt(c.Now(), "bob"))
	c.Add(time.Minute)
	err = call(unknown)
	assert.Code(t, err, connect.CodeUnauthenticated)
	assertChallengeIs(t, err, `Bearer realm="api", error="invalid_token"`)

	// The key rotates while the endpoint is down: the refetch fails.
	srv.status.Store(http.StatusBadGateway)
	srv.setKeys(t, public("rsa-1", "RS256", rsaKey), public("rsa-2", "RS256", rsaKey2))
	c.Add(time.Minute)
	assertUnavailable(call(unknown), "refetch failed")
	assert.NoError(t, call(valid), "the last good set stays in use")

	srv.status.Store(http.StatusOK)
	c.Add(time.Minute)
	assert.NoError(t, call(unknown), "accepted once the set is fetched")
}

func assertChallengeIs(t *testing.T, err error, want string) {
	t.Helper()
	var cerr *connect.Error
	assert.True(t, errors.As(err, &cerr))
	assert.Equal(t, cerr.Meta().Get("Www-Authenticate"), want)
}

// TestKeysSharingOrLackingIDs: keys are kept per key ID, so several keys
// without an ID, or one ID shared by keys of different types, all verify;
// a token is checked against the keys with its "kid" that suit its
// algorithm, against the keys without an ID when none has its "kid", and,
// when it has no "kid", against at most four suitable keys.
func TestKeysSharingOrLackingIDs(t *testing.T) {
	t.Parallel()
	testKeys(t)
	now := time.Now()
	verify := func(t *testing.T, set []jose.JSONWebKey, token string) error {
		t.Helper()
		srv := newJWKSServer(t, set...)
		keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0))
		assert.NoError(t, err)
		t.Cleanup(func() { _ = keys.Close() })
		v, err := jwt.NewVerifier(keys, []string{"RS256", "ES256", "EdDSA"})
		assert.NoError(t, err)
		_, err = v.Verify(ctxTimeout(t), token)
		return err
	}
	t.Run("two_keys_without_id", func(t *testing.T) {
		set := []jose.JSONWebKey{public("", "RS256", rsaKey), public("", "RS256", rsaKey2)}
		assert.NoError(t, verify(t, set, sign(t, jose.RS256, "", rsaKey, claimsAt(now, "a"))))
		assert.NoError(t, verify(t, set, sign(t, jose.RS256, "", rsaKey2, claimsAt(now, "a"))))
	})
	t.Run("id_shared_across_types", func(t *testing.T) {
		set := []jose.JSONWebKey{public("k1", "RS256", rsaKey), public("k1", "ES256", ecKey), public("k1", "EdDSA", edKey)}
		assert.NoError(t, verify(t, set, sign(t, jose.RS256, "k1", rsaKey, claimsAt(now, "a"))))
		assert.NoError(t, verify(t, set, sign(t, jose.ES256, "k1", ecKey, claimsAt(now, "a"))))
		assert.NoError(t, verify(t, set, sign(t, jose.EdDSA, "k1", edKey, claimsAt(now, "a"))))
	})
	t.Run("token_id_set_without", func(t *testing.T) {
		set := []jose.JSONWebKey{public("", "RS256", rsaKey)}
		assert.NoError(t, verify(t, set, sign(t, jose.RS256, "whatever", rsaKey, claimsAt(now, "a"))))
	})
	t.Run("token_without_id_set_with", func(t *testing.T) {
		set := []jose.JSONWebKey{public("rsa-1", "RS256", rsaKey), public("rsa-2", "RS256", rsaKey2)}
		assert.NoError(t, verify(t, set, sign(t, jose.RS256, "", rsaKey2, claimsAt(now, "a"))))
	})
	t.Run("matching_id_wins_over_keys_without", func(t *testing.T) {
		// rsa-1 names another key: the key without an ID is not tried.
		set := []jose.JSONWebKey{public("rsa-1", "RS256", rsaKey), public("", "RS256", rsaKey2)}
		assert.Code(t, verify(t, set, sign(t, jose.RS256, "rsa-1", rsaKey2, claimsAt(now, "a"))), connect.CodeUnauthenticated)
	})
	t.Run("matching_id_of_another_type_wins_over_keys_without", func(t *testing.T) {
		// ec-1 is an ES256 key: an RS256 token naming it is not tried
		// against the RSA key without an ID either.
		set := []jose.JSONWebKey{public("ec-1", "ES256", ecKey), public("", "RS256", rsaKey)}
		assert.Code(t, verify(t, set, sign(t, jose.RS256, "ec-1", rsaKey, claimsAt(now, "a"))), connect.CodeUnauthenticated)
	})
	t.Run("at_most_four_tried", func(t *testing.T) {
		others := make([]jose.JSONWebKey, 4)
		for i := range others {
			others[i] = public("", "ES256", mustEC(t, elliptic.P256()))
		}
		set := append(others, public("", "ES256", ecKey))
		assert.Code(t, verify(t, set, sign(t, jose.ES256, "", ecKey, claimsAt(now, "a"))), connect.CodeUnauthenticated)
		assert.NoError(t, verify(t, set[1:], sign(t, jose.ES256, "", ecKey, claimsAt(now, "a"))))
		// Keys that do not suit the algorithm do not count.
		set = append([]jose.JSONWebKey{public("", "RS256", rsaKey), public("", "EdDSA", edKey)}, set[2:]...)
		assert.NoError(t, verify(t, set, sign(t, jose.ES256, "", ecKey, claimsAt(now, "a"))))
	})
}

// TestZeroSettingsMeanDefaults: zero or negative sizes and timeouts, and a
// nil HTTP client, mean the defaults rather than "fail everything" or a
// panic.
func TestZeroSettingsMeanDefaults(t *testing.T) {
	t.Parallel()
	testKeys(t)
	srv := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	token := sign(t, jose.RS256, "rsa-1", rsaKey, claimsAt(time.Now(), "alice"))
	verify := func(t *testing.T, jwksOpts []jwt.JWKSOption, opts ...jwt.Option) {
		t.Helper()
		jwksOpts = append([]jwt.JWKSOption{jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0)}, jwksOpts...)
		keys, err := jwt.NewJWKS(srv.URL, jwksOpts...)
		assert.NoError(t, err)
		defer keys.Close()
		assert.NoError(t, keys.Refresh(ctxTimeout(t)))
		v, err := jwt.NewVerifier(keys, []string{"RS256"}, opts...)
		assert.NoError(t, err)
		_, err = v.Verify(ctxTimeout(t), token)
		assert.NoError(t, err)
	}
	for _, n := range []int{0, -1} {
		t.Run("fetch_timeout_"+strconv.Itoa(n), func(t *testing.T) {
			verify(t, []jwt.JWKSOption{jwt.WithFetchTimeout(time.Duration(n))})
		})
		t.Run("max_body_bytes_"+strconv.Itoa(n), func(t *testing.T) {
			verify(t, []jwt.JWKSOption{jwt.WithMaxBodyBytes(int64(n))})
		})
		t.Run("max_token_bytes_"+strconv.Itoa(n), func(t *testing.T) {
			verify(t, nil, jwt.WithMaxTokenBytes(n))
		})
	}
	t.Run("nil_http_client", func(t *testing.T) {
		verify(t, []jwt.JWKSOption{jwt.WithHTTPClient(nil)})
	})
}

// TestRedirectDowngradeRefused: the key set is fetched over https; a
// redirect to plain http is refused (with the default client, and with a
// client that sets no redirect policy), while a redirect that stays on
// https is followed.
func TestRedirectDowngradeRefused(t *testing.T) {
	t.Parallel()
	testKeys(t)
	plain := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	var doc []byte = plain.doc.Load().([]byte)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/downgrade":
			http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/jwks", http.StatusMovedPermanently)
		default:
			_, _ = w.Write(doc)
		}
	}))
	defer secure.Close()
	// secure.Client trusts the test certificate and has no CheckRedirect.
	keys, err := jwt.NewJWKS(secure.URL+"/downgrade", jwt.WithHTTPClient(secure.Client()), jwt.WithRefreshInterval(0))
	assert.NoError(t, err)
	defer keys.Close()
	err = keys.Refresh(ctxTimeout(t))
	assert.Error(t, err)
	assert.Contains(t, err.Error(), "refusing a redirect from https to http")
	assert.Equal(t, plain.fetches.Load(), int64(0), "the plain-text server was asked")

	moved, err := jwt.NewJWKS(secure.URL+"/moved", jwt.WithHTTPClient(secure.Client()), jwt.WithRefreshInterval(0))
	assert.NoError(t, err)
	defer moved.Close()
	assert.NoError(t, moved.Refresh(ctxTimeout(t)))
}

// TestRedirectToPlainHTTPRefused: a loopback http JWKS URL, allowed without
// WithInsecureHTTP, may not redirect to plain http on another host, which
// NewJWKS would have refused as the URL itself; with WithInsecureHTTP it
// may.
func TestRedirectToPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	testKeys(t)
	plain := newJWKSServer(t, public("rsa-1", "RS256", rsaKey))
	doc := plain.doc.Load().([]byte)
	for _, insecure := range []bool{false, true} {
		var asked []string
		var mu sync.Mutex
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			asked = append(asked, r.URL.String())
			mu.Unlock()
			if r.URL.Host == "127.0.0.1" {
				return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"http://idp.example/jwks"}},
					Body: http.NoBody, Request: r}, nil
			}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(doc)), Request: r}, nil
		})}
		opts := []jwt.JWKSOption{jwt.WithHTTPClient(client), jwt.WithRefreshInterval(0)}
		if insecure {
			opts = append(opts, jwt.WithInsecureHTTP())
		}
		keys, err := jwt.NewJWKS("http://127.0.0.1/jwks", opts...)
		assert.NoError(t, err)
		err = keys.Refresh(ctxTimeout(t))
		assert.NoError(t, keys.Close())
		mu.Lock()
		plainText := slices.Contains(asked, "http://idp.example/jwks")
		mu.Unlock()
		if insecure {
			assert.NoError(t, err)
			assert.True(t, plainText, "WithInsecureHTTP follows the redirect")
		} else {
			assert.Error(t, err)
			assert.Contains(t, err.Error(), "refusing a redirect")
			assert.True(t, !plainText, "the plain-text host was asked")
		}
	}
}

// TestJWKSURLChecked: NewJWKS refuses URLs it could never fetch safely:
// plain http to a host that is not a loopback address (unless
// WithInsecureHTTP), other schemes, and URLs without a host.
func TestJWKSURLChecked(t *testing.T) {
	t.Parallel()
	refuse := jwt.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in this test")
	})})
	for _, url := range []string{"http://idp.example/jwks", "http://10.0.0.1/jwks", "ftp://idp.example/jwks", "https:///jwks", "idp.example/jwks", "://"} {
		keys, err := jwt.NewJWKS(url, refuse)
		if err == nil {
			_ = keys.Close()
		}
		assert.Error(t, err, url)
	}
	for _, url := range []string{"https://idp.example/jwks", "http://localhost:8080/jwks", "http://127.0.0.1/jwks", "http://[::1]:9/jwks"} {
		keys, err := jwt.NewJWKS(url, refuse)
		assert.NoError(t, err, url)
		_ = keys.Close()
	}
	keys, err := jwt.NewJWKS("http://idp.example/jwks", refuse, jwt.WithInsecureHTTP())
	assert.NoError(t, err)
	_ = keys.Close()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// mustEC generates an ECDSA key on curve.
func mustEC(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	assert.NoError(t, err)
	return k
}

// TestTokensWaitForRefetchInFlight: a key rotates; the first token naming
// the new key triggers a refetch. Tokens naming it that arrive while that
// fetch runs wait for it and are judged on its result: accepted when it
// brings the key, Unavailable when it fails, never refused as invalid
// because the answer was not in yet. A waiter whose context ends leaves,
// unjudged.
func TestTokensWaitForRefetchInFlight(t *testing.T) {
	t.Parallel()
	testKeys(t)
	for _, fails := range []bool{false, true} {
		var (
			doc     atomic.Value
			gated   atomic.Bool
			arrived = make(chan struct{}, 1)
			release = make(chan struct{})
		)
		status := http.StatusOK
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if gated.Load() {
				arrived <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				w.WriteHeader(status)
			}
			_, _ = w.Write(doc.Load().([]byte))
		}))
		serve := func(keys ...jose.JSONWebKey) {
			b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
			assert.NoError(t, err)
			doc.Store(b)
		}
		serve(public("rsa-1", "RS256", rsaKey))
		c := newClock()
		keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0),
			jwt.WithRefetchInterval(time.Hour), jwt.WithJWKSClock(c.Now))
		assert.NoError(t, err)
		v, err := jwt.NewVerifier(keys, []string{"RS256"}, jwt.WithClock(c.Now), jwt.WithCacheSize(0))
		assert.NoError(t, err)

		serve(public("rsa-1", "RS256", rsaKey), public("rsa-2", "RS256", rsaKey2))
		if fails {
			status = http.StatusBadGateway
		}
		gated.Store(true)
		token := sign(t, jose.RS256, "rsa-2", rsaKey2, claimsAt(c.Now(), "new"))
		errs := make(chan error, 3)
		verify := func(ctx context.Context) { _, err := v.Verify(ctx, token); errs <- err }
		go verify(ctxTimeout(t)) // triggers the refetch
		<-arrived
		go verify(ctxTimeout(t)) // arrives while it runs
		gone, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		returnsWithin(t, 5*time.Second, func() {
			_, err := v.Verify(gone, token)
			assert.Code(t, err, connect.CodeUnavailable, "waiter whose context ended", fails)
		})
		cancel()
		time.Sleep(50 * time.Millisecond)
		close(release)
		for range 2 {
			err := <-errs
			if fails {
				assert.Code(t, err, connect.CodeUnavailable, "refetch failed")
			} else {
				assert.NoError(t, err)
			}
		}
		assert.NoError(t, keys.Close())
		srv.Close()
	}
}
