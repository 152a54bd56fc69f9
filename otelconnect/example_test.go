package otelconnect_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// The interceptor goes on handlers and clients alike.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	interceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(tracerProvider),
		otelconnect.WithMeterProvider(meterProvider),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{}, connect.WithInterceptors(interceptor)))
	server := httptest.NewServer(mux)
	defer server.Close()

	client := testv1connect.NewTestServiceClient(server.Client(), server.URL, connect.WithInterceptors(interceptor))
	if _, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: 1})); err != nil {
		log.Fatal(err)
	}

	for _, span := range spans.Ended() {
		fmt.Println(span.SpanKind(), span.Name())
	}
	var metrics metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &metrics); err != nil {
		log.Fatal(err)
	}
	for _, m := range metrics.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Unordered output:
	// server connectware.test.v1.TestService/Ping
	// client connectware.test.v1.TestService/Ping
	// rpc.server.call.duration s
	// rpc.client.call.duration s
}

// The lean Prometheus set-up: the OpenTelemetry exporter without the
// otel_scope_* labels on every line and without target_info, served by
// client_golang's promhttp at /metrics.
func Example_leanPrometheus() {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(registry),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		log.Fatal(err)
	}
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	interceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithMeterProvider(meterProvider),
		otelconnect.WithoutTracing(),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{}, connect.WithInterceptors(interceptor)))
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	server := httptest.NewServer(mux)
	defer server.Close()

	client := testv1connect.NewTestServiceClient(server.Client(), server.URL)
	if _, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: 1})); err != nil {
		log.Fatal(err)
	}
	res, err := server.Client().Get(server.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	scanner := bufio.NewScanner(res.Body)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, "rpc_server_call_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// rpc_server_call_duration_seconds_count{rpc_method="connectware.test.v1.TestService/Ping",rpc_response_status_code="OK",rpc_system_name="connectrpc"} 1
}
