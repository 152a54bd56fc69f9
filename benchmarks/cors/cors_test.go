// Package cors_test measures connectware/cors against github.com/rs/cors
// configured with connectrpc.com/cors's lists, the set-up the official
// package's README gives, and checks that the compatibility lists match.
package cors_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	officialcors "connectrpc.com/cors"
	rscors "github.com/rs/cors"

	"github.com/connectware/connectware/cors"
)

const origin = "https://app.example.com"

// sameSignature compiles only when a and b have identical types.
func sameSignature[T any](a, b T) {}

// The official API, signature for signature: a change here that breaks a
// caller of connectrpc.com/cors fails to compile.
var _ = func() {
	sameSignature(cors.AllowedMethods, officialcors.AllowedMethods)
	sameSignature(cors.AllowedHeaders, officialcors.AllowedHeaders)
	sameSignature(cors.ExposedHeaders, officialcors.ExposedHeaders)
}

// TestCompatibleLists: migrating is an import-path change, so the three
// functions the official package has return the same lists here.
func TestCompatibleLists(t *testing.T) {
	for name, pair := range map[string][2][]string{
		"AllowedMethods": {cors.AllowedMethods(), officialcors.AllowedMethods()},
		"AllowedHeaders": {cors.AllowedHeaders(), officialcors.AllowedHeaders()},
		"ExposedHeaders": {cors.ExposedHeaders(), officialcors.ExposedHeaders()},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("%s: ours %v, official %v", name, pair[0], pair[1])
		}
	}
}

// TestAllocs holds the middleware to the allocations of rs/cors configured
// with the official lists, and to the budget the benchmarks report (1 for a
// request with Origin, 1 for a preflight, 0 without Origin), with exact and
// wildcard-subdomain origins.
func TestAllocs(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	hs := handlers(t)
	wildcard, err := cors.New([]string{"https://*.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	hs["connectware_wildcard"] = wildcard.Handler(next)
	for _, tc := range []struct {
		name   string
		req    *http.Request
		budget float64
	}{
		{"request_with_origin", requestWithOrigin(), 1},
		{"preflight", preflight(), 1},
		{"request_without_origin", requestWithoutOrigin(), 0},
	} {
		allocs := func(h http.Handler) float64 {
			w := &discard{h: make(http.Header, 8)}
			return testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, tc.req)
			})
		}
		official := allocs(hs["official"])
		for _, name := range []string{"connectware", "connectware_wildcard"} {
			got := allocs(hs[name])
			if got > official || got > tc.budget {
				t.Errorf("%s/%s: %v allocs, official %v, budget %v", tc.name, name, got, official, tc.budget)
			}
		}
	}
}

func handlers(tb testing.TB) map[string]http.Handler {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ours, err := cors.New([]string{origin})
	if err != nil {
		tb.Fatal(err)
	}
	official := rscors.New(rscors.Options{
		AllowedOrigins: []string{origin},
		AllowedMethods: officialcors.AllowedMethods(),
		AllowedHeaders: officialcors.AllowedHeaders(),
		ExposedHeaders: officialcors.ExposedHeaders(),
		MaxAge:         7200,
	})
	return map[string]http.Handler{
		"connectware": ours.Handler(next),
		"official":    official.Handler(next),
		"bare":        next,
	}
}

// discard is a ResponseWriter that keeps headers between requests without
// allocating, so the figures are the middleware's own.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func bench(b *testing.B, req *http.Request) {
	hs := handlers(b)
	for _, name := range []string{"connectware", "official", "bare"} {
		h := hs[name]
		b.Run(name, func(b *testing.B) {
			w := &discard{h: make(http.Header, 8)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

func requestWithOrigin() *http.Request {
	req := httptest.NewRequest(http.MethodPost, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func preflight() *http.Request {
	req := httptest.NewRequest(http.MethodOptions, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "connect-protocol-version,connect-timeout-ms,content-type")
	return req
}

func requestWithoutOrigin() *http.Request {
	req := httptest.NewRequest(http.MethodPost, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func BenchmarkRequestWithOrigin(b *testing.B) { bench(b, requestWithOrigin()) }

func BenchmarkPreflight(b *testing.B) { bench(b, preflight()) }

func BenchmarkRequestWithoutOrigin(b *testing.B) { bench(b, requestWithoutOrigin()) }
