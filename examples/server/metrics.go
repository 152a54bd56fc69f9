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

	"github.com/connectware/connectware/otelconnect"
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

// handler serves the registry in the Prometheus text format, or
// OpenMetrics (with exemplars) when the scraper asks for it.
func (t *telemetry) handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
