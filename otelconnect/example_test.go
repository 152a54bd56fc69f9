package otelconnect_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
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
