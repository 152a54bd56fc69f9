package cors_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/connectware/connectware/cors"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/browser"
	"github.com/connectware/connectware/internal/testkit"
)

// browserCalls is run by a page in headless Chromium. It calls the API
// across origins as connect-es and grpc-web would, and reports what the page
// could read, or "blocked: TypeError" when the browser refused.
const browserCalls = `(async () => {
  const api = %q;
  const ping = api + "/connectware.test.v1.TestService/Ping";
  const fail = api + "/connectware.test.v1.TestService/Fail";
  const auth = "Bearer secret";
  const out = {};
  async function attempt(name, fn) {
    try { out[name] = await fn(); } catch (e) { out[name] = "blocked: " + e.name; }
  }
  async function connectPost() {
    const r = await fetch(ping, {method: "POST", body: JSON.stringify({number: "7", text: "browser"}),
      headers: {"Content-Type": "application/json", "Connect-Protocol-Version": "1", "Connect-Timeout-Ms": "5000", "Authorization": auth, "X-Test-Echo": "e1"}});
    const j = await r.json();
    return r.status + " " + j.number + " " + j.text + " trailer=" + r.headers.get("Trailer-X-Test-Echo-Trailer");
  }
  await attempt("connect_post", connectPost);
  // The same call again: the browser must answer it from its preflight
  // cache (Access-Control-Max-Age), without a second preflight.
  await attempt("connect_post_again", connectPost);
  await attempt("connect_get", async () => {
    const r = await fetch(ping + "?connect=v1&encoding=json&message=" + encodeURIComponent(JSON.stringify({number: "5"})));
    const j = await r.json();
    return r.status + " " + j.number;
  });
  await attempt("grpcweb", async () => {
    const r = await fetch(ping, {method: "POST", body: new Uint8Array([0, 0, 0, 0, 2, 8, 9]),
      headers: {"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1", "X-User-Agent": "grpc-web-javascript/0.1", "Grpc-Timeout": "5S", "Authorization": auth}});
    const b = new Uint8Array(await r.arrayBuffer());
    const n = b[4];
    const msg = Array.from(b.slice(5, 5 + n)).join(",");
    const trailer = new TextDecoder().decode(b.slice(5 + n + 5)).toLowerCase();
    return r.status + " msg=" + msg + " " + (trailer.includes("grpc-status: 0") ? "trailer-ok" : "trailer=" + trailer);
  });
  await attempt("grpcweb_error", async () => {
    const r = await fetch(fail, {method: "POST", body: new Uint8Array([0, 0, 0, 0, 6, 8, 7, 18, 2, 110, 111]),
      headers: {"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1", "Authorization": auth}});
    return "grpc-status=" + r.headers.get("grpc-status") + " grpc-message=" + r.headers.get("grpc-message");
  });
  await attempt("connect_error", async () => {
    const r = await fetch(fail, {method: "POST", body: JSON.stringify({code: 7, message: "no"}),
      headers: {"Content-Type": "application/json", "Connect-Protocol-Version": "1", "Authorization": auth}});
    const j = await r.json();
    return r.status + " " + j.code + " " + j.message;
  });
  return out;
})()`

// requireBearer stands in for an authentication layer behind CORS: POSTs
// without the token are refused, so a call that succeeds proves the
// Authorization header crossed origins.
func requireBearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestBrowser(t *testing.T) {
	b := browser.New(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>cors test</title><p>page</p>")
	})
	goodPage := httptest.NewServer(page)
	defer goodPage.Close()
	badPage := httptest.NewServer(page)
	defer badPage.Close()

	c, err := cors.New([]string{goodPage.URL},
		cors.WithAuthorization(),
		cors.WithRequestHeaders(testkit.HeaderEcho),
		cors.WithUnaryTrailers(testkit.HeaderEcho+"-Trailer"),
	)
	assert.NoError(t, err)
	var pingPreflights atomic.Int32 // preflights of the connect_post call
	countPreflights := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions && strings.HasSuffix(r.URL.Path, "/Ping") &&
				strings.Contains(r.Header.Get("Access-Control-Request-Headers"), "x-test-echo") {
				pingPreflights.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	api := testkit.NewServer(t, countPreflights(c.Handler(requireBearer(testkit.NewMux(&testkit.PingServer{})))), testkit.HTTP1)
	script := fmt.Sprintf(browserCalls, api.URL)

	t.Run("allowed_origin", func(t *testing.T) {
		got := browser.Eval[map[string]string](t, b, goodPage.URL, script)
		assert.Equal(t, got["connect_post"], "200 7 browser trailer=e1", got)
		assert.Equal(t, got["connect_post_again"], "200 7 browser trailer=e1", got)
		assert.Equal(t, pingPreflights.Load(), int32(1), "the preflight answer must be cached")
		assert.Equal(t, got["connect_get"], "200 5", got)
		assert.Equal(t, got["grpcweb"], "200 msg=8,9 trailer-ok", got)
		assert.Equal(t, got["grpcweb_error"], "grpc-status=7 grpc-message=no", got)
		assert.Equal(t, got["connect_error"], "403 permission_denied no", got)
	})
	t.Run("other_origin", func(t *testing.T) {
		got := browser.Eval[map[string]string](t, b, badPage.URL, script)
		assert.Equal(t, len(got), 6, got)
		for name, v := range got {
			assert.True(t, strings.HasPrefix(v, "blocked: TypeError"), name, v)
		}
	})
}
