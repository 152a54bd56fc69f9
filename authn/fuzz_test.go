package authn_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// fuzzServe sends one Connect unary request with header set to value
// through a Middleware in front of a handler that records whether it ran,
// and checks the outcome is a clean pass (handler ran, 200) or a clean
// rejection (handler did not run, 401 with a challenge).
func fuzzServe(t *testing.T, auth authn.AuthFunc, header, value string, valid bool) {
	ran := false
	h := authn.New(auth).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		if authn.GetInfo(r.Context()) == nil {
			t.Fatal("handler ran without an identity")
		}
	}))
	req := httptest.NewRequest(http.MethodPost, testv1connect.TestServicePingProcedure, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header[header] = []string{value}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ran != valid {
		t.Fatalf("%q: handler ran = %v, want %v", value, ran, valid)
	}
	if !ran && (rec.Code != http.StatusUnauthorized || rec.Header().Get("Www-Authenticate") == "" ||
		!strings.Contains(rec.Body.String(), `"code":"unauthenticated"`)) {
		t.Fatalf("%q: unclean rejection %d %q %q", value, rec.Code, rec.Header(), rec.Body.String())
	}
}

// FuzzAuthorizationBearer parses arbitrary Authorization headers as bearer
// credentials.
func FuzzAuthorizationBearer(f *testing.F) {
	for _, seed := range []string{"", "Bearer " + goodToken, "bearer " + goodToken, "Bearer", "Bearer ", "Bearer  x", "Basic Zm9vOmJhcg==", "Bearer \x00", strings.Repeat("Bearer ", 50)} {
		f.Add(seed)
	}
	auth := authn.BearerTokens(map[string]any{goodToken: wantUser})
	f.Fuzz(func(t *testing.T, value string) {
		token, ok := authn.BearerToken(&http.Request{Header: http.Header{"Authorization": {value}}})
		valid := ok && token == goodToken
		if strings.ContainsAny(value, "\r\n") {
			return // cannot travel in a header
		}
		fuzzServe(t, auth, "Authorization", value, valid)
	})
}

// FuzzAuthorizationBasic parses arbitrary Authorization headers as Basic
// credentials against a hashed secret.
func FuzzAuthorizationBasic(f *testing.F) {
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{"", enc("alice:pw"), enc("alice:"), enc(":pw"), enc("alice"), "Basic", "Basic !!", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), enc("alice:pw:extra")} {
		f.Add(seed)
	}
	hash, err := authn.HashSecret("pw", 1000)
	if err != nil {
		f.Fatal(err)
	}
	auth, err := authn.BasicAuth(map[string]string{"alice": hash})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n") {
			return
		}
		user, pass, ok := authn.BasicCredentials(&http.Request{Header: http.Header{"Authorization": {value}}})
		fuzzServe(t, auth, "Authorization", value, ok && user == "alice" && pass == "pw")
	})
}

// FuzzAPIKey checks API key extraction from arbitrary header values.
func FuzzAPIKey(f *testing.F) {
	for _, seed := range []string{"", "key-1", "key-1 ", "KEY-1", "key-", "key-10", "\x00"} {
		f.Add(seed)
	}
	auth := authn.APIKeys("X-Api-Key", map[string]any{"key-1": wantUser})
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n") {
			return
		}
		fuzzServe(t, auth, "X-Api-Key", value, value == "key-1")
	})
}
