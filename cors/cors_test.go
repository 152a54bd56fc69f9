package cors_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	rscors "github.com/rs/cors"
	"go.uber.org/goleak"
	"google.golang.org/grpc/metadata"

	"github.com/connectware/connectware/cors"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/chromedp/chromedp.(*Browser).run"))
}

const (
	allowed = "https://app.example.com"
	denied  = "https://evil.example.net"
)

func preflight(t *testing.T, h http.Handler, origin, method, headers string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodOptions, "http://api.example.com/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustNew(t *testing.T, origins []string, opts ...cors.Option) *cors.CORS {
	t.Helper()
	c, err := cors.New(origins, opts...)
	assert.NoError(t, err)
	return c
}

var unreachable = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusTeapot)
})

// TestPreflightPerProtocol sends the preflights browsers send for each
// protocol and checks the grant for each preset.
func TestPreflightPerProtocol(t *testing.T) {
	t.Parallel()
	connectPost := "connect-protocol-version,connect-timeout-ms,content-type"
	connectStream := "connect-accept-encoding,connect-content-encoding,connect-protocol-version,content-type"
	grpcWeb := "content-type,grpc-accept-encoding,grpc-encoding,grpc-timeout,x-grpc-web,x-user-agent"
	cases := []struct {
		name            string
		protocols       cors.Protocol
		method, headers string
		want            bool
	}{
		{"connect/connect_post", cors.ProtocolConnect, "POST", connectPost, true},
		{"connect/connect_stream", cors.ProtocolConnect, "POST", connectStream, true},
		{"connect/connect_get", cors.ProtocolConnect, "GET", "", true},
		{"connect/compressed_unary", cors.ProtocolConnect, "POST", "connect-protocol-version,content-encoding,content-type", true},
		{"connect/grpcweb_refused", cors.ProtocolConnect, "POST", grpcWeb, false},
		{"grpcweb/grpcweb", cors.ProtocolGRPCWeb, "POST", grpcWeb, true},
		{"grpcweb/get_refused", cors.ProtocolGRPCWeb, "GET", "", false},
		{"grpcweb/connect_refused", cors.ProtocolGRPCWeb, "POST", connectPost, false},
		{"all/connect_post", cors.ProtocolAll, "POST", connectPost, true},
		{"all/connect_get", cors.ProtocolAll, "GET", "", true},
		{"all/grpcweb", cors.ProtocolAll, "POST", grpcWeb, true},
		{"all/put_refused", cors.ProtocolAll, "PUT", "", false},
		{"all/authorization_refused_by_default", cors.ProtocolAll, "POST", "authorization,content-type", false},
		{"all/unknown_header_refused", cors.ProtocolAll, "POST", "content-type,x-secret", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := mustNew(t, []string{allowed}, cors.WithProtocols(tc.protocols)).Handler(unreachable)
			rec := preflight(t, h, allowed, tc.method, tc.headers)
			assert.True(t, rec.Code != http.StatusTeapot, "a preflight must never reach the next handler")
			got := rec.Header().Get("Access-Control-Allow-Origin") == allowed
			assert.Equal(t, got, tc.want, rec.Header())
			if tc.want {
				assert.Equal(t, rec.Header().Get("Access-Control-Max-Age"), "7200")
				assert.Equal(t, rec.Header().Get("Access-Control-Allow-Credentials"), "")
			}
		})
	}
}

func TestOrigins(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{"https://app.example.com", "https://*.example.org", "http://localhost:3000", "HTTPS://Upper.Example.COM"})
	for origin, want := range map[string]bool{
		"https://app.example.com":          true,
		"HTTPS://APP.EXAMPLE.COM":          true,
		"https://upper.example.com":        true,
		"http://app.example.com":           false, // scheme differs
		"https://app.example.com:8443":     false, // port differs
		"https://app.example.com.evil.net": false,
		"https://a.example.org":            true,
		"https://a.b.example.org":          true,
		"https://example.org":              false, // the wildcard needs a label
		"https://.example.org":             false,
		"https://a..example.org":           false,
		"https://evil.net/x.example.org":   false,
		"https://user@a.example.org":       false,
		"https://a.example.org:444":        false,
		"https://a.example.org.evil.net":   false,
		"http://a.example.org":             false,
		"http://localhost:3000":            true,
		"http://localhost:3001":            false,
		"null":                             false,
		"":                                 false,
		"https://" + strings.Repeat("a", 600) + ".example.org": false,
	} {
		req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
		req.Header.Set("Origin", origin)
		assert.Equal(t, c.OriginAllowed(req), want, origin)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, origins := range map[string][]string{
		"empty":           nil,
		"path":            {"https://app.example.com/"},
		"query":           {"https://app.example.com?x"},
		"no_scheme":       {"app.example.com"},
		"inner_wildcard":  {"https://app.*.example.com"},
		"two_wildcards":   {"https://*.*.example.com"},
		"partial_label":   {"https://app*.example.com"},
		"user":            {"https://u@app.example.com"},
		"bad_host":        {"https://exa_mple.com"},
		"trailing_dot":    {"https://example.com."},
		"empty_host":      {"https://"},
		"wildcard_scheme": {"*://example.com"},
	} {
		_, err := cors.New(origins)
		assert.Error(t, err, name)
	}
	_, err := cors.New([]string{"*"}, cors.WithCredentials())
	assert.Error(t, err, "* with credentials")
	_, err = cors.New([]string{allowed}, cors.WithProtocols(0))
	assert.Error(t, err, "no protocols")
	_, err = cors.New(nil, cors.WithOriginFunc(func(*http.Request, string) bool { return false }))
	assert.NoError(t, err, "an origin func alone is enough")
}

func TestOptions(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{allowed},
		cors.WithAuthorization(),
		cors.WithCredentials(),
		cors.WithMaxAge(10*time.Minute),
		cors.WithRequestHeaders("X-Request-Id"),
		cors.WithExposedHeaders("x-request-id"),
		cors.WithUnaryTrailers("x-cost"),
		cors.WithRSOptions(func(o *rscors.Options) { o.OptionsSuccessStatus = http.StatusOK }),
	)
	h := c.Handler(unreachable)
	rec := preflight(t, h, allowed, "POST", "authorization,connect-protocol-version,content-type,x-request-id")
	assert.Equal(t, rec.Code, http.StatusOK)
	assert.Equal(t, rec.Header().Get("Access-Control-Allow-Origin"), allowed)
	assert.Equal(t, rec.Header().Get("Access-Control-Allow-Credentials"), "true")
	assert.Equal(t, rec.Header().Get("Access-Control-Max-Age"), "600")
	assert.Contains(t, strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "authorization")

	// A real call gets the exposed headers, and reaches the next handler.
	req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
	req.Header.Set("Origin", allowed)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, rec.Code, http.StatusTeapot)
	assert.Contains(t, rec.Header().Get("Vary"), "Origin", "shared caches must key on Origin")
	exposed := strings.Split(rec.Header().Get("Access-Control-Expose-Headers"), ", ")
	for _, want := range []string{"Trailer-X-Cost", "X-Request-Id", "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "Connect-Content-Encoding"} {
		assert.True(t, slices.Contains(exposed, want), want, exposed)
	}
	o := c.Options()
	assert.Equal(t, o.MaxAge, 600)

	noCache := mustNew(t, []string{allowed}, cors.WithMaxAge(0)).Handler(unreachable)
	assert.Equal(t, preflight(t, noCache, allowed, "POST", "").Header().Get("Access-Control-Max-Age"), "0")

	dynamic := mustNew(t, []string{allowed}, cors.WithOriginFunc(func(_ *http.Request, o string) bool {
		return o == "https://tenant.example.io"
	})).Handler(unreachable)
	assert.Equal(t, preflight(t, dynamic, "https://tenant.example.io", "POST", "").Header().Get("Access-Control-Allow-Origin"), "https://tenant.example.io")
	assert.Equal(t, preflight(t, dynamic, allowed, "POST", "").Header().Get("Access-Control-Allow-Origin"), allowed)
	assert.Equal(t, preflight(t, dynamic, denied, "POST", "").Header().Get("Access-Control-Allow-Origin"), "")
}

// TestDeniedOrigin: no grant of any kind for an origin that is not allowed,
// on preflights and real calls, and real calls still reach the handler (the
// browser, not the server, enforces CORS).
func TestDeniedOrigin(t *testing.T) {
	t.Parallel()
	h := mustNew(t, []string{allowed}, cors.WithAuthorization(), cors.WithCredentials()).Handler(unreachable)
	rec := preflight(t, h, denied, "POST", "content-type")
	for k := range rec.Header() {
		assert.True(t, !strings.HasPrefix(k, "Access-Control-Allow"), k)
	}
	req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
	req.Header.Set("Origin", denied)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, rec.Code, http.StatusTeapot)
	assert.Equal(t, rec.Header().Get("Access-Control-Allow-Origin"), "")
	assert.Equal(t, rec.Header().Get("Access-Control-Expose-Headers"), "")
}

// TestManyOrigins sends two Origin headers, which no browser does: the
// request gets no grant (only "*" when every origin is allowed), the
// preflight is answered without reaching the handler, the real call
// reaches it, and OriginAllowed says no. Left to rs/cors, both values
// (the denied one too) would be echoed in Access-Control-Allow-Origin.
func TestManyOrigins(t *testing.T) {
	t.Parallel()
	configs := map[string]*cors.CORS{
		"exact":    mustNew(t, []string{allowed}),
		"wildcard": mustNew(t, []string{"https://*.example.com"}, cors.WithCredentials()),
		"func":     mustNew(t, nil, cors.WithOriginFunc(func(*http.Request, string) bool { return true })),
		"any":      mustNew(t, []string{"*"}),
	}
	for name, c := range configs {
		for _, origins := range [][]string{{allowed, denied}, {allowed, allowed}, {denied, allowed}} {
			t.Run(name+"/"+strings.Join(origins, "+"), func(t *testing.T) {
				t.Parallel()
				// noGrant checks a response: nothing granted, or "*" alone.
				noGrant := func(rec *httptest.ResponseRecorder) {
					t.Helper()
					if name == "any" {
						assert.Equal(t, strings.Join(rec.Header()["Access-Control-Allow-Origin"], ","), "*")
						return
					}
					for k := range rec.Header() {
						assert.True(t, !strings.HasPrefix(k, "Access-Control-Allow"), k, rec.Header().Get(k))
					}
				}
				h := c.Handler(unreachable)
				req := httptest.NewRequest(http.MethodOptions, "http://api/x", nil)
				req.Header["Origin"] = origins
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
				req.Header.Set("Access-Control-Request-Headers", "content-type")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.True(t, rec.Code != http.StatusTeapot, "a preflight must never reach the next handler")
				noGrant(rec)

				req = httptest.NewRequest(http.MethodPost, "http://api/x", nil)
				req.Header["Origin"] = origins
				assert.Equal(t, c.OriginAllowed(req), name == "any", "OriginAllowed")
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, rec.Code, http.StatusTeapot)
				noGrant(rec)
			})
		}
	}
}

// TestWire runs every RPC kind through the middleware over the wire with the
// browser protocols (and gRPC, which passes untouched), as a browser's
// request would arrive: with an Origin header.
func TestWire(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{allowed}, cors.WithUnaryTrailers(testkit.HeaderEcho+"-Trailer"))
	testkit.Matrix(t, c.Handler(testkit.NewMux(&testkit.PingServer{})), func(t *testing.T, tc testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(tc.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				header, _, err := testkit.Call(ctx, tc.Client(), st, http.Header{"Origin": {allowed}})
				assert.NoError(t, err)
				assert.Equal(t, header.Get("Access-Control-Allow-Origin"), allowed)
				assert.Contains(t, header.Get("Access-Control-Expose-Headers"), "Grpc-Status")
				assert.Contains(t, header.Get("Access-Control-Expose-Headers"), "Trailer-X-Test-Echo-Trailer")
			})
		}
	})
}

// TestWireGRPCGo: grpc-go clients (servers' usual non-browser callers) get
// through the middleware untouched, in every RPC kind, with and without an
// Origin header.
func TestWireGRPCGo(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{allowed})
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		srv := testkit.NewServer(t, c.Handler(testkit.NewMux(&testkit.PingServer{})), n)
		conn := testkit.GRPCConn(t, srv)
		for _, st := range testkit.StreamTypes() {
			for _, origin := range []string{"", allowed, denied} {
				t.Run(n.String()+"/"+testkit.StreamTypeName(st)+"/origin="+origin, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if origin != "" {
						ctx = metadata.AppendToOutgoingContext(ctx, "origin", origin)
					}
					assert.NoError(t, testkit.GRPCCall(ctx, conn, st))
				})
			}
		}
	}
}

// TestWireGRPCWebError: a gRPC-Web error carries grpc-status in headers
// (trailers-only), and the grant exposes it.
func TestWireGRPCWebError(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{allowed})
	srv := testkit.NewServer(t, c.Handler(testkit.NewMux(&testkit.PingServer{})), testkit.HTTP1)
	body := []byte{0, 0, 0, 0, 2, 0x08, 0x07} // FailRequest{code: 7}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/connectware.test.v1.TestService/Fail", strings.NewReader(string(body)))
	assert.NoError(t, err)
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set("X-Grpc-Web", "1")
	req.Header.Set("Origin", allowed)
	res, err := srv.Client.Do(req)
	assert.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, res.Header.Get("Grpc-Status"), "7")
	assert.Equal(t, res.Header.Get("Access-Control-Allow-Origin"), allowed)
	assert.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status")
}

// TestBadInput: malformed or huge Origin and Access-Control-Request-Headers
// values get no CORS grant, and no panic, with exact and wildcard origins.
// FuzzPreflight explores the same inputs at random.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const sorted = "connect-protocol-version,content-type"
	huge := strings.Repeat("a", 1<<16)
	cases := []struct {
		name            string
		origin, headers string
	}{
		{"origin_huge_exact", allowed + "." + huge, sorted},
		{"origin_huge_subdomain", "https://" + huge + ".example.org", sorted},
		{"origin_many_labels", "https://" + strings.Repeat("a.", 300) + "example.org", sorted},
		{"origin_nul", allowed + "\x00", sorted},
		{"origin_control", "https://a\r\n.example.org", sorted},
		{"origin_space", " " + allowed, sorted},
		{"origin_utf8", "https://äpp.example.org", sorted},
		{"origin_invalid_utf8", "https://\xff\xfe.example.org", sorted},
		{"origin_list", allowed + ", " + denied, sorted},
		{"origin_path", allowed + "/", sorted},
		{"origin_userinfo", "https://" + allowed[len("https://"):] + "@evil.example.net", sorted},
		{"origin_subdomain_userinfo", "https://x@a.example.org", sorted},
		{"origin_subdomain_port", "https://a.example.org:1", sorted},
		{"origin_no_scheme", "app.example.com", sorted},
		{"origin_null", "null", sorted},
		{"origin_star", "*", sorted},
		{"headers_huge_name", allowed, "content-type," + huge},
		{"headers_huge_list", allowed, strings.Repeat("content-type,", 10000)},
		{"headers_many_empty", allowed, strings.Repeat(",", 100) + "content-type"},
		{"headers_unsorted", allowed, "content-type,connect-protocol-version"},
		{"headers_duplicate", allowed, "content-type,content-type"},
		{"headers_nul", allowed, "content-type\x00"},
		{"headers_wide_space", allowed, "content-type,     connect-protocol-version"},
		{"headers_unknown", allowed, "content-type,x-" + huge},
		{"headers_star", allowed, "*"},
	}
	handlers := map[string]http.Handler{
		"exact":    mustNew(t, []string{allowed}).Handler(unreachable),
		"wildcard": mustNew(t, []string{allowed, "https://*.example.org"}, cors.WithCredentials()).Handler(unreachable),
	}
	for hname, h := range handlers {
		for _, tc := range cases {
			t.Run(hname+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				rec := preflight(t, h, tc.origin, http.MethodPost, tc.headers)
				assert.True(t, rec.Code != http.StatusTeapot, "a preflight must never reach the next handler")
				for k := range rec.Header() {
					assert.True(t, !strings.HasPrefix(k, "Access-Control-Allow"), k, rec.Header().Get(k))
				}
				// A real call with the bad Origin is served, without a grant.
				req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
				req.Header.Set("Origin", tc.origin)
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, rec.Code, http.StatusTeapot)
				if !strings.HasPrefix(tc.name, "headers_") {
					assert.Equal(t, rec.Header().Get("Access-Control-Allow-Origin"), "")
					assert.Equal(t, rec.Header().Get("Access-Control-Expose-Headers"), "")
				}
			})
		}
	}
}
