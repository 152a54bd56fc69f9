package otelconnect_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/otelconnect"
)

// On connect-go v2 (connectrpc.com/connect/v2), handlers get their own
// interceptor, given to connect.NewServer. (The server here registers its
// method with connect-go v2's untyped API, as generated code does.)
func ExampleNewServerInterceptor() {
	spans := tracetest.NewSpanRecorder()
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	interceptor, err := otelconnect.NewServerInterceptor(
		otelconnect.WithTracerProvider(tracerProvider),
		otelconnect.WithMeterProvider(meterProvider),
	)
	if err != nil {
		log.Fatal(err)
	}
	server := connectv2.NewServer(interceptor)
	server.Register(connectv2.Method{
		Spec: connectv2.Spec{
			Procedure: testv1connect.TestServicePingProcedure,
			Schema:    testv1.File_connectware_test_v1_test_proto.Services().ByName("TestService").Methods().ByName("Ping"),
		},
		Handler: func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
			var req testv1.PingRequest
			if err := stream.Receive(&req); err != nil {
				return err
			}
			return stream.Send(&testv1.PingResponse{Number: req.GetNumber()})
		},
	})
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	httpServer := httptest.NewServer(mux)
	defer httpServer.Close()

	client := connectv2.NewClient(connecthttp.NewTransport(httpServer.Client(), httpServer.URL))
	spec := connectv2.Spec{Procedure: testv1connect.TestServicePingProcedure}
	if err := client.CallUnary(context.Background(), spec, &testv1.PingRequest{Number: 1}, &testv1.PingResponse{}); err != nil {
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
	// Output:
	// server connectware.test.v1.TestService/Ping
	// rpc.server.call.duration s
}

// On connect-go v2, clients get their own interceptor, given to
// connect.NewClient. It injects the trace context into the request: here
// the server only prints what it received.
func ExampleNewClientInterceptor() {
	spans := tracetest.NewSpanRecorder()
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	interceptor, err := otelconnect.NewClientInterceptor(
		otelconnect.WithTracerProvider(tracerProvider),
		otelconnect.WithoutMetrics(),
		otelconnect.WithPropagator(propagator),
	)
	if err != nil {
		log.Fatal(err)
	}
	server := connectv2.NewServer()
	server.Register(connectv2.Method{
		Spec: connectv2.Spec{Procedure: testv1connect.TestServicePingProcedure},
		Handler: func(ctx context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
			info, _ := connectv2.CallInfoForServerContext(ctx)
			fmt.Println("traceparent received:", info.RequestHeader().Get("Traceparent") != "")
			var req testv1.PingRequest
			if err := stream.Receive(&req); err != nil {
				return err
			}
			return stream.Send(&testv1.PingResponse{Number: req.GetNumber()})
		},
	})
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	httpServer := httptest.NewServer(mux)
	defer httpServer.Close()

	client := connectv2.NewClient(connecthttp.NewTransport(httpServer.Client(), httpServer.URL), interceptor)
	spec := connectv2.Spec{Procedure: testv1connect.TestServicePingProcedure}
	if err := client.CallUnary(context.Background(), spec, &testv1.PingRequest{Number: 1}, &testv1.PingResponse{}); err != nil {
		log.Fatal(err)
	}

	for _, span := range spans.Ended() {
		fmt.Println(span.SpanKind(), span.Name(), span.Status().Code)
	}
	// Output:
	// traceparent received: true
	// client connectware.test.v1.TestService/Ping Unset
}
