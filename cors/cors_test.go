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

// TestOriginPorts: an origin written with its scheme's default port is
// granted as browsers send it, without the port; a port browsers can never
// send, and a wildcard over a whole top-level domain, are refused with an
// error that says why.
func TestOriginPorts(t *testing.T) {
	t.Parallel()
	c := mustNew(t, []string{"https://app.example.com:443", "http://localhost:80", "https://*.example.org:443", "http://*.localhost:3000", "https://api.example.net:8443"})
	for origin, want := range map[string]bool{
		"https://app.example.com":      true,
		"http://localhost":             true,
		"https://a.example.org":        true,
		"http://app.localhost:3000":    true,
		"https://api.example.net:8443": true,
		"https://api.example.net":      false,
		"http://app.example.com":       false,
		"https://localhost":            false, // 80 is http's default, not https's
	} {
		req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
		req.Header.Set("Origin", origin)
		assert.Equal(t, c.OriginAllowed(req), want, origin)
	}
	exact := mustNew(t, []string{"HTTPS://App.Example.com:443", "http://localhost:80", "http://localhost:8080"})
	assert.Equal(t, exact.Options().AllowedOrigins, []string{"http://localhost", "http://localhost:8080", "https://app.example.com"})
	h := exact.Handler(unreachable)
	assert.Equal(t, preflight(t, h, "https://app.example.com", "POST", "").Header().Get("Access-Control-Allow-Origin"), "https://app.example.com")

	// IPv6 hosts are kept as browsers serialize them (RFC 5952-like, but
	// IPv4-mapped addresses in hex).
	v6 := mustNew(t, []string{"http://[0:0:0:0:0:0:0:1]:8080", "http://[::FFFF:127.0.0.1]:8080", "https://[2001:DB8:0:0:1::1]:443"})
	assert.Equal(t, v6.Options().AllowedOrigins, []string{"http://[::1]:8080", "http://[::ffff:7f00:1]:8080", "https://[2001:db8::1:0:0:1]"})
	for _, origin := range []string{"http://[::1]:8080", "http://[::ffff:7f00:1]:8080", "https://[2001:db8::1:0:0:1]"} {
		req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
		req.Header.Set("Origin", origin)
		assert.True(t, v6.OriginAllowed(req), origin)
	}

	for origin, wantErr := range map[string]string{
		"http://[fe80::1%25eth0]":       "no path, query or user",
		"http://[1.2.3.4]":              "no path, query or user",
		"https://app.example.com:":      "empty port",
		"https://*.example.com:":        "empty port",
		"https://app.example.com:99999": "not in 1-65535",
		"https://app.example.com:0":     "not in 1-65535",
		"https://app.example.com:0443":  "leading zero",
		"https://*.com":                 "single label",
		"https://*.127.0.0.1":           "IP address",
		"https://*.[::1]":               "IP address",
	} {
		_, err := cors.New([]string{origin})
		assert.Error(t, err, origin)
		assert.Contains(t, err.Error(), wantErr, origin)
	}
}

// TestRSOptionsOrigins: origin fields set through WithRSOptions win over
// New's origins, as its doc says, with rs/cors's precedence among them,
// New's rules for AllowedOrigins, and no grant for two Origin headers.
func TestRSOptionsOrigins(t *testing.T) {
	t.Parallel()
	const other = "https://other.example.com"
	cases := []struct {
		name    string
		origins []string
		edit    func(*rscors.Options)
		granted []string // among allowed, other, denied
	}{
		{"allowed_origins", []string{allowed}, func(o *rscors.Options) { o.AllowedOrigins = []string{other} }, []string{other}},
		{"allowed_origins_wildcard", []string{allowed}, func(o *rscors.Options) { o.AllowedOrigins = []string{"https://*.example.com"} }, []string{allowed, other}},
		{"allowed_origins_appended", []string{allowed}, func(o *rscors.Options) { o.AllowedOrigins = append(o.AllowedOrigins, other) }, []string{allowed, other}},
		{"allowed_origins_without_new", nil, func(o *rscors.Options) { o.AllowedOrigins = []string{other} }, []string{other}},
		{"allowed_origins_over_wildcard", []string{"https://*.example.com"}, func(o *rscors.Options) { o.AllowedOrigins = []string{other} }, []string{other}},
		{"origin_func", []string{allowed}, func(o *rscors.Options) { o.AllowOriginFunc = func(origin string) bool { return origin == other } }, []string{other}},
		{"origin_func_over_allowed_origins", []string{allowed}, func(o *rscors.Options) {
			o.AllowedOrigins = []string{denied}
			o.AllowOriginFunc = func(origin string) bool { return origin == other }
		}, []string{other}},
		{"origin_request_func", []string{allowed}, func(o *rscors.Options) {
			o.AllowOriginRequestFunc = func(_ *http.Request, origin string) bool { return origin != denied }
		}, []string{allowed, other}},
		{"origin_vary_request_func", []string{allowed}, func(o *rscors.Options) {
			o.AllowOriginVaryRequestFunc = func(_ *http.Request, origin string) (bool, []string) { return origin == other, nil }
		}, []string{other}},
		{"wrapped_new_func", []string{allowed}, func(o *rscors.Options) {
			next := o.AllowOriginVaryRequestFunc
			o.AllowOriginVaryRequestFunc = func(r *http.Request, origin string) (bool, []string) {
				if origin == other {
					return true, nil
				}
				return next(r, origin)
			}
		}, []string{allowed, other}},
		{"star", []string{allowed}, func(o *rscors.Options) { o.AllowedOrigins = []string{"*"} }, []string{allowed, other, denied}},
		{"from_star", []string{"*"}, func(o *rscors.Options) { o.AllowedOrigins = []string{other} }, []string{other}},
		{"other_fields_keep_new_origins", []string{allowed}, func(o *rscors.Options) { o.AllowPrivateNetwork = true }, []string{allowed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustNew(t, tc.origins, cors.WithRSOptions(tc.edit))
			h := c.Handler(unreachable)
			for _, origin := range []string{allowed, other, denied} {
				want := slices.Contains(tc.granted, origin)
				wantACAO := ""
				switch {
				case want && tc.name == "star":
					wantACAO = "*"
				case want:
					wantACAO = origin
				}
				rec := preflight(t, h, origin, "POST", "content-type")
				assert.Equal(t, rec.Header().Get("Access-Control-Allow-Origin"), wantACAO, origin)
				req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
				req.Header.Set("Origin", origin)
				assert.Equal(t, c.OriginAllowed(req), want, origin)
				// Two Origin headers get no grant, except that of "*".
				req.Header["Origin"] = []string{origin, origin}
				assert.Equal(t, c.OriginAllowed(req), want && tc.name == "star", origin, "twice")
			}
		})
	}
	for name, edit := range map[string]func(*rscors.Options){
		"bad_origin":             func(o *rscors.Options) { o.AllowedOrigins = []string{"https://app.example.com/path"} },
		"empty_is_not_all":       func(o *rscors.Options) { o.AllowedOrigins = nil; o.AllowOriginVaryRequestFunc = nil },
		"star_with_credentials":  func(o *rscors.Options) { o.AllowedOrigins = []string{"*"}; o.AllowCredentials = true },
		"credentials_after_star": func(o *rscors.Options) { o.AllowCredentials = true },
	} {
		origins := []string{allowed}
		if name == "credentials_after_star" {
			origins = []string{"*"}
		}
		_, err := cors.New(origins, cors.WithRSOptions(edit))
		assert.Error(t, err, name)
	}
}

// TestOriginAllowedWithoutOrigin: a request with no Origin header is not a
// cross-origin browser request, and OriginAllowed says so for every
// configuration, "*" included.
func TestOriginAllowedWithoutOrigin(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]*cors.CORS{
		"any":   mustNew(t, []string{"*"}),
		"exact": mustNew(t, []string{allowed}),
		"func":  mustNew(t, nil, cors.WithOriginFunc(func(*http.Request, string) bool { return true })),
	} {
		req := httptest.NewRequest(http.MethodPost, "http://api/x", nil)
		assert.Equal(t, c.OriginAllowed(req), false, name)
		req.Header.Set("Origin", "")
		assert.Equal(t, c.OriginAllowed(req), false, name, "empty")
		req.Header.Set("Origin", allowed)
		assert.Equal(t, c.OriginAllowed(req), true, name, allowed)
	}
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
