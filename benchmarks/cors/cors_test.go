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

func handlers(b *testing.B) map[string]http.Handler {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ours, err := cors.New([]string{origin})
	if err != nil {
		b.Fatal(err)
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

func BenchmarkRequestWithOrigin(b *testing.B) {
	req := httptest.NewRequest(http.MethodPost, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	bench(b, req)
}

func BenchmarkPreflight(b *testing.B) {
	req := httptest.NewRequest(http.MethodOptions, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "connect-protocol-version,connect-timeout-ms,content-type")
	bench(b, req)
}

func BenchmarkRequestWithoutOrigin(b *testing.B) {
	req := httptest.NewRequest(http.MethodPost, "http://api/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Content-Type", "application/json")
	bench(b, req)
}
