package authn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestOAuth2ClientCredentials drives OAuth2 with the real
// golang.org/x/oauth2 client-credentials flow: a token endpoint on loopback
// mints tokens, clientcredentials.Config fetches and caches them, and our
// Credentials send them on every RPC kind, in every protocol, to a server
// that accepts only the minted token.
func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	var minted atomic.Int64
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "client" || secret != "s3cret" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		minted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "minted-token",
			"token_type":   "Bearer",
			"expires_in":   3600,
		})
	}))
	t.Cleanup(tokenEndpoint.Close)

	conf := &clientcredentials.Config{ClientID: "client", ClientSecret: "s3cret", TokenURL: tokenEndpoint.URL}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tokenEndpoint.Client())
	var source oauth2.TokenSource = conf.TokenSource(ctx)
	creds := authn.NewCredentials(authn.OAuth2(source))

	mw := authn.NewMiddleware(authn.BearerTokens(map[string]any{"minted-token": "svc"}))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	for _, p := range testkit.Protocols() {
		client := testkit.NewClient(srv, p, connect.WithInterceptors(creds))
		for _, st := range testkit.StreamTypes() {
			_, _, err := testkit.Call(ctxTimeout(t), client, st, nil)
			assert.NoError(t, err, p, testkit.StreamTypeName(st))
		}
		// Without the credentials the server refuses the call.
		_, _, err := testkit.Call(ctxTimeout(t), testkit.NewClient(srv, p), connect.StreamTypeUnary, nil)
		assert.Code(t, err, connect.CodeUnauthenticated)
	}
	assert.Equal(t, minted.Load(), int64(1), "the token is fetched once and cached")

	// A token endpoint that refuses the client gives Unauthenticated
	// locally, with the endpoint's error.
	bad := &clientcredentials.Config{ClientID: "client", ClientSecret: "wrong", TokenURL: tokenEndpoint.URL}
	badCreds := authn.NewCredentials(authn.OAuth2(bad.TokenSource(ctx)))
	_, err := badCreds.HeaderValue(context.Background())
	assert.Code(t, err, connect.CodeUnauthenticated)
	assert.Contains(t, err.Error(), "invalid_client")
}

// embeddedToken is an oauth2.Token-shaped type whose fields are promoted
// through an embedded pointer.
type embeddedToken struct{ *plainToken }

type plainToken struct {
	AccessToken string
	Expiry      time.Time
}

type embeddedSource struct{ token embeddedToken }

func (s embeddedSource) Token() (embeddedToken, error) { return s.token, nil }

// TestOAuth2EmbeddedPointer reads tokens whose fields come through an
// embedded pointer: set, they are sent; nil, the source fails with an
// error instead of panicking.
func TestOAuth2EmbeddedPointer(t *testing.T) {
	t.Parallel()
	creds := authn.NewCredentials(authn.OAuth2(embeddedSource{embeddedToken{&plainToken{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}}}))
	value, err := creds.HeaderValue(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, value, "Bearer tok")
	_, err = authn.NewCredentials(authn.OAuth2(embeddedSource{})).HeaderValue(context.Background())
	assert.Code(t, err, connect.CodeUnauthenticated)
}
