package main

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/otelconnect"
	"github.com/connectware/connectware/ratelimit"
)

// telemetry is the server's metrics registry, served at /metrics, and the
// RPC interceptor that feeds it.
type telemetry struct {
	registry    *prometheus.Registry
	interceptor *otelconnect.Interceptor
	shutdown    []func()
}

func newTelemetry() (*telemetry, error) {
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The lean exporter set-up: no otel_scope_* labels on every line and
	// no target_info family (see the otelconnect package doc).
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(registry),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, err
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	// Spans are sampled but not exported: the demo has no collector. They
	// give the duration histograms trace_id exemplars.
	tracers := sdktrace.NewTracerProvider()
	interceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithMeterProvider(meters),
		otelconnect.WithTracerProvider(tracers),
		otelconnect.WithInFlightMetric(),
	)
	if err != nil {
		return nil, err
	}
	return &telemetry{
		registry:    registry,
		interceptor: interceptor,
		shutdown: []func(){
			func() { _ = meters.Shutdown(context.Background()) },
			func() { _ = tracers.Shutdown(context.Background()) },
		},
	}, nil
}

// countRateLimits exports the rate limiter's decision counters.
func (t *telemetry) countRateLimits(stats func() ratelimit.Stats) {
	t.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectware_ratelimit_allowed_total",
			Help: "Calls the rate limiter let through.",
		}, func() float64 { return float64(stats().Allowed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectware_ratelimit_rejected_total",
			Help: "Calls the rate limiter rejected with resource_exhausted.",
		}, func() float64 { return float64(stats().Rejected) }),
	)
}

// countAuthFailures wraps auth so that every rejected credential counts.
func (t *telemetry) countAuthFailures(auth authn.AuthFunc) authn.AuthFunc {
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "connectware_authn_failures_total",
		Help: "Requests refused as unauthenticated.",
	})
	t.registry.MustRegister(failures)
	return func(ctx context.Context, req *http.Request) (any, error) {
		info, err := auth(ctx, req)
		if err != nil {
			failures.Inc()
		}
		return info, err
	}
}

// watchHealth exports each service's health as a gauge: 1 when SERVING,
// 0 otherwise.
func (t *telemetry) watchHealth(checker grpchealth.Checker, services ...string) {
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "connectware_health_serving",
		Help: "Whether a service's gRPC health status is SERVING (1) or not (0); the whole server is service=\"\".",
	}, []string{"service"})
	t.registry.MustRegister(&healthCollector{checker: checker, services: services, gauge: gauge})
}

// healthCollector reads the health statuses at scrape time.
type healthCollector struct {
	checker  grpchealth.Checker
	services []string
	gauge    *prometheus.GaugeVec
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) { c.gauge.Describe(ch) }

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, svc := range c.services {
		v := 0.0
		res, err := c.checker.Check(context.Background(), &grpchealth.CheckRequest{Service: svc})
		if err == nil && res.Status == grpchealth.StatusServing {
			v = 1
		}
		c.gauge.WithLabelValues(svc).Set(v)
	}
	c.gauge.Collect(ch)
}

// handler serves the registry in the Prometheus text format, or
// OpenMetrics (with exemplars) when the scraper asks for it.
func (t *telemetry) handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
