package cors_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/connectware/connectware/cors"
)

// subdomainOrigin is the fuzz oracle for "https://*.example.org": one or
// more non-empty labels of letters, digits and hyphens.
var subdomainOrigin = regexp.MustCompile(`^https://([a-z0-9-]+\.)+example\.org$`)

// FuzzPreflight feeds arbitrary Origin, Access-Control-Request-Method and
// Access-Control-Request-Headers values to the middleware: it must never
// panic, never grant an origin that is not allowed, and never grant a
// header it does not allow.
func FuzzPreflight(f *testing.F) {
	f.Add("https://app.example.com", "POST", "content-type,connect-protocol-version", true)
	f.Add("https://a.example.org", "GET", "", true)
	f.Add("https://a..example.org", "POST", "content-type", false)
	f.Add("https://evil.net/.example.org", "POST", "x", true)
	f.Add("https://evil.net/.example.org", "POST", "", false)
	f.Add("https://x@a.example.org", "GET", "", true)
	f.Add("https://a.example.org:1", "POST", "content-type", true)
	f.Add("https://a\r\n.example.org", "POST", "", false)
	f.Add("https://"+strings.Repeat("a.", 300)+"example.org", "POST", "", false)
	f.Add("https://app.example.com", "POST", "content-type,"+strings.Repeat("x", 1<<16), true)
	f.Add("https://app.example.com", "POST", strings.Repeat(",", 100)+"content-type", true)
	f.Add("https://APP.example.com", "POST", strings.Repeat("content-type,", 1000), true)
	f.Add("\x00\xff", "\n", ",,,, ,", false)
	f.Add(strings.Repeat("https://", 500), "POST", "authorization", true)
	f.Add("https://a.example.org", "", "x-evil", true)
	c, err := cors.New([]string{"https://app.example.com", "https://*.example.org"}, cors.WithAuthorization())
	if err != nil {
		f.Fatal(err)
	}
	allowedHeaders := map[string]bool{}
	for _, h := range c.Options().AllowedHeaders {
		allowedHeaders[strings.ToLower(h)] = true
	}
	reached := false
	h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	f.Fuzz(func(t *testing.T, origin, method, headers string, isPreflight bool) {
		reached = false
		req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
		if isPreflight {
			req.Method = http.MethodOptions
			req.Header["Access-Control-Request-Method"] = []string{method}
			req.Header["Access-Control-Request-Headers"] = []string{headers}
		}
		req.Header["Origin"] = []string{origin}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		granted := rec.Header().Get("Access-Control-Allow-Origin")
		// OPTIONS without Access-Control-Request-Method is no preflight and
		// goes on to the handler, as the Fetch standard says.
		if isPreflight && method != "" && reached {
			t.Fatal("preflight reached the next handler")
		}
		if granted == "" {
			return
		}
		lower := strings.ToLower(origin)
		// 512 bytes hold any real origin (a 253-byte host name, a scheme and
		// a port); the middleware compares nothing longer.
		if granted != origin || len(origin) > 512 ||
			lower != "https://app.example.com" && !subdomainOrigin.MatchString(lower) {
			t.Fatalf("granted %q to origin %q", granted, origin)
		}
		// An OPTIONS request without Access-Control-Request-Method is an
		// actual request (rs/cors always allows the OPTIONS method there; a
		// browser never sends one cross-origin without a preflight), so only
		// a real preflight is checked for the method and headers it grants.
		if !isPreflight || method == "" {
			return
		}
		if !slices.Contains([]string{"GET", "POST"}, method) {
			t.Fatalf("granted method %q", method)
		}
		for _, name := range strings.Split(headers, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !allowedHeaders[name] {
				t.Fatalf("granted header %q in %q", name, headers)
			}
		}
	})
}
