package otelconnect_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// promSetup serves TestService instrumented with metrics exported by the
// OpenTelemetry Prometheus exporter into a client_golang registry, and
// returns the registry's /metrics handler and the recorded spans.
func promSetup(t *testing.T, options []otelconnect.Option, exporterOptions ...otelprom.Option) (metrics http.Handler, reg *prometheus.Registry, spans *tracetest.SpanRecorder, client func(testkit.Protocol) error) {
	t.Helper()
	reg = prometheus.NewRegistry()
	exporter, err := otelprom.New(append([]otelprom.Option{otelprom.WithRegisterer(reg)}, exporterOptions...)...)
	assert.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	spans = tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	interceptor, err := otelconnect.NewInterceptor(append([]otelconnect.Option{
		otelconnect.WithTracerProvider(tp),
		otelconnect.WithMeterProvider(mp),
		otelconnect.WithInFlightMetric(),
	}, options...)...)
	assert.NoError(t, err)
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor)), testkit.H2C)
	client = func(p testkit.Protocol) error {
		c := testkit.NewClient(srv, p)
		for _, st := range testkit.StreamTypes() {
			if _, _, err := testkit.Call(context.Background(), c, st, nil); err != nil {
				return err
			}
		}
		return nil
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}), reg, spans, client
}

func scrape(t *testing.T, h http.Handler, accept string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, w.Code, http.StatusOK)
	body, err := io.ReadAll(w.Body)
	assert.NoError(t, err)
	return string(body)
}

// TestPrometheusExemplars scrapes OpenMetrics from the OpenTelemetry
// Prometheus exporter and finds trace_id exemplars on the duration
// histogram that name the server spans; the exposition passes promlint.
func TestPrometheusExemplars(t *testing.T) {
	t.Parallel()
	h, reg, spans, call := promSetup(t, nil)
	assert.NoError(t, call(testkit.GRPC))
	body := scrape(t, h, "application/openmetrics-text; version=1.0.0")
	traceIDs := map[string]bool{}
	for _, s := range spans.Ended() {
		traceIDs[s.SpanContext().TraceID().String()] = true
	}
	var found int
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "rpc_server_call_duration_seconds_bucket") {
			continue
		}
		_, exemplar, ok := strings.Cut(line, " # ")
		if !ok {
			continue
		}
		_, rest, ok := strings.Cut(exemplar, `trace_id="`)
		assert.True(t, ok, exemplar)
		id, _, _ := strings.Cut(rest, `"`)
		assert.True(t, traceIDs[id], "exemplar trace id names a recorded span", id)
		found++
	}
	assert.True(t, found >= 1, "no exemplar in:\n"+body)
	assert.Contains(t, body, "rpc_server_active_calls{")

	problems, err := lint(reg)
	assert.NoError(t, err)
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// bytesPerSample is the size of a text exposition divided by its number of
// samples (lines that are not comments).
func bytesPerSample(body string) (int, float64) {
	var samples int
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			samples++
		}
	}
	return samples, float64(len(body)) / float64(samples)
}

// TestLeanPrometheus measures the bytes per sample of the documented lean
// exporter set-up (no scope labels, no target_info) against the
// exporter's defaults, for the same calls.
func TestLeanPrometheus(t *testing.T) {
	t.Parallel()
	hDefault, _, _, callDefault := promSetup(t, nil)
	hLean, regLean, _, callLean := promSetup(t, nil, otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	assert.NoError(t, callDefault(testkit.ConnectProto))
	assert.NoError(t, callLean(testkit.ConnectProto))
	def := scrape(t, hDefault, "text/plain")
	lean := scrape(t, hLean, "text/plain")
	nDef, perDef := bytesPerSample(def)
	nLean, perLean := bytesPerSample(lean)
	t.Logf("default: %d bytes, %d samples, %.1f bytes/sample", len(def), nDef, perDef)
	t.Logf("lean:    %d bytes, %d samples, %.1f bytes/sample (%.0f%% of default)", len(lean), nLean, perLean, 100*perLean/perDef)
	assert.True(t, !strings.Contains(lean, "otel_scope_name"), "lean drops scope labels")
	assert.True(t, !strings.Contains(lean, "target_info"), "lean drops target_info")
	assert.Contains(t, def, "otel_scope_name")
	assert.True(t, perLean < 0.8*perDef, "lean is at least 20% smaller per sample")
	problems, err := lint(regLean)
	assert.NoError(t, err)
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// lint runs client_golang's promlint on what reg gathers.
func lint(reg *prometheus.Registry) ([]promlint.Problem, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	return promlint.NewWithMetricFamilies(mfs).Lint()
}

// TestPrometheusDup checks the Prometheus series a dashboard sees under
// rpc/dup: those of otelconnect v0.9 and of v0.12 side by side, and that
// the exposition passes promlint but for the one thing the old conventions
// got wrong and dashboards depend on: milliseconds.
func TestPrometheusDup(t *testing.T) {
	t.Parallel()
	h, reg, _, call := promSetup(t, []otelconnect.Option{otelconnect.WithConventions(otelconnect.ConventionsDup)}, otelprom.WithoutScopeInfo())
	assert.NoError(t, call(testkit.GRPC))
	body := scrape(t, h, "text/plain")
	for _, series := range []string{
		`rpc_server_call_duration_seconds_count{rpc_method="connectware.test.v1.TestService/Ping",rpc_response_status_code="OK",rpc_system_name="grpc"} 1`,
		`rpc_server_duration_milliseconds_count{rpc_grpc_status_code="0",rpc_method="Ping",rpc_service="connectware.test.v1.TestService",rpc_system="grpc"} 1`,
		`rpc_server_requests_per_rpc_count{rpc_grpc_status_code="0",rpc_method="CumSum",rpc_service="connectware.test.v1.TestService",rpc_system="grpc"} 1`,
		`rpc_server_request_size_bytes_count{rpc_method="Sum",rpc_service="connectware.test.v1.TestService",rpc_system="grpc"} 3`,
	} {
		assert.Contains(t, body, series)
	}
	problems, err := lint(reg)
	assert.NoError(t, err)
	for _, p := range problems {
		if strings.HasSuffix(p.Metric, "_duration_milliseconds") && strings.Contains(p.Text, `base unit "seconds"`) {
			continue // the old name, kept for dashboards
		}
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
