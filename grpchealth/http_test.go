package grpchealth_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

func get(t *testing.T, srv *testkit.Server, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, srv.URL+path, nil)
	assert.NoError(t, err)
	res, err := srv.Client.Do(req)
	assert.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	assert.NoError(t, err)
	if res.StatusCode < 300 || res.StatusCode == 503 || res.StatusCode == 404 {
		assert.Equal(t, res.Header.Get("Content-Type"), "application/json")
	}
	return res.StatusCode, strings.TrimSpace(string(body))
}

// TestHTTPEndpoints: /healthz follows liveness probes only, /readyz follows
// readiness (probes, SetStatus, Shutdown); bodies are small JSON.
func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker(pingService)
	defer checker.Close()
	live, db := &switchable{}, &switchable{}
	checker.AddLivenessProbe("deadlock", live.check, probeOptions(clk)...)
	checker.AddProbe("", "db", db.check, probeOptions(clk)...)
	mux := newMux(checker)
	mux.Handle("/healthz", checker.LivenessHandler())
	mux.Handle("/readyz", checker.ReadinessHandler())
	for _, n := range []testkit.Network{testkit.HTTP1, testkit.H2C} {
		srv := testkit.NewServer(t, mux, n)
		t.Run(n.String(), func(t *testing.T) {
			expect := func(path string, code int, body string) {
				t.Helper()
				eventually(t, path+" "+body, func() bool {
					gotCode, gotBody := get(t, srv, http.MethodGet, path)
					if gotCode == code && gotBody == body {
						return true
					}
					clk.Advance(1e9)
					return false
				})
			}
			expect("/healthz", 200, `{"status":"SERVING"}`)
			expect("/readyz", 200, `{"status":"SERVING"}`)
			expect("/readyz?service="+pingService, 200, `{"status":"SERVING","service":"connectware.test.v1.TestService"}`)
			expect("/readyz?service=nope", 404, `{"status":"SERVICE_UNKNOWN","service":"nope"}`)

			// Readiness failure: not ready, still alive.
			db.set(errors.New("db down"))
			expect("/readyz", 503, `{"status":"NOT_SERVING","failing":["db"]}`)
			expect("/healthz", 200, `{"status":"SERVING"}`)
			assert.Equal(t, statusOfService(t, checker, ""), grpchealth.StatusNotServing)
			db.set(nil)
			expect("/readyz", 200, `{"status":"SERVING"}`)

			// Liveness failure: not alive, but the gRPC status is untouched.
			live.set(errors.New("stuck"))
			expect("/healthz", 503, `{"status":"NOT_SERVING","failing":["deadlock"]}`)
			expect("/readyz", 200, `{"status":"SERVING"}`)
			assert.Equal(t, statusOfService(t, checker, ""), grpchealth.StatusServing)
			live.set(nil)
			expect("/healthz", 200, `{"status":"SERVING"}`)

			// Drain: not ready, alive.
			checker.Shutdown()
			expect("/readyz", 503, `{"status":"NOT_SERVING"}`)
			expect("/healthz", 200, `{"status":"SERVING"}`)
			checker.Resume()
			expect("/readyz", 200, `{"status":"SERVING"}`)

			code, body := get(t, srv, http.MethodHead, "/readyz")
			assert.Equal(t, code, 200)
			assert.Equal(t, body, "")
			code, _ = get(t, srv, http.MethodPost, "/healthz")
			assert.Equal(t, code, http.StatusMethodNotAllowed)
		})
	}
}
