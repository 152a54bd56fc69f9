// Package otelconnect_test measures connectware's otelconnect against
// connectrpc.com/otelconnect v0.12.0 with the same OpenTelemetry SDK
// providers, and a bare baseline without any interceptor, in one run.
//
// "Direct" benchmarks call the interceptor's wrapped function with a request
// captured from a real connect-go handler (or client), so they measure the
// interceptor alone; "Loopback" benchmarks make real calls over h2c on
// 127.0.0.1, with the interceptor on both the client and the handler.
package otelconnect_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	official "connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/otelconnect"
)

// providers are the OpenTelemetry providers both interceptors get.
type providers struct {
	name   string
	tracer trace.TracerProvider
	meter  metric.MeterProvider
}

func providerSets() []providers {
	sdkTracer := sdktrace.NewTracerProvider()
	sdkMeter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	return []providers{
		{"sdk", sdkTracer, sdkMeter},
		{"metrics_only", tracenoop.NewTracerProvider(), sdkMeter},
		{"noop", tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()},
	}
}

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// interceptors returns ours and the official one with the same providers,
// and nil for the bare baseline.
func interceptors(b *testing.B, p providers) []struct {
	name string
	i    connect.Interceptor
} {
	b.Helper()
	ours, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(p.tracer),
		otelconnect.WithMeterProvider(p.meter),
		otelconnect.WithPropagator(propagator),
	)
	if err != nil {
		b.Fatal(err)
	}
	theirs, err := official.NewInterceptor(
		official.WithTracerProvider(p.tracer),
		official.WithMeterProvider(p.meter),
		official.WithPropagator(propagator),
	)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		i    connect.Interceptor
	}{{"connectware", ours}, {"official", theirs}, {"bare", nil}}
}

// captureHandlerRequest serves one real Connect unary request and returns
// the context and request connect-go gave the handler's interceptors.
func captureHandlerRequest(b *testing.B) (context.Context, connect.AnyRequest) {
	b.Helper()
	var ctx context.Context
	var req connect.AnyRequest
	capture := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(c context.Context, r connect.AnyRequest) (connect.AnyResponse, error) {
			ctx, req = c, r
			return next(c, r)
		}
	})
	mux := newMux(connect.WithInterceptors(capture))
	body, err := proto.Marshal(&testv1.PingRequest{Number: 42, Text: "ping"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, testv1connect.TestServicePingProcedure, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/proto")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusOK || req == nil {
		b.Fatalf("capture: HTTP %d", w.Code)
	}
	return ctx, req
}

// captureClientRequest makes one client call and returns the context and
// request connect-go gave the client's interceptors (no network: the
// capturing interceptor answers).
func captureClientRequest(b *testing.B) (context.Context, connect.AnyRequest) {
	b.Helper()
	var ctx context.Context
	var req connect.AnyRequest
	capture := connect.UnaryInterceptorFunc(func(connect.UnaryFunc) connect.UnaryFunc {
		return func(c context.Context, r connect.AnyRequest) (connect.AnyResponse, error) {
			ctx, req = c, r
			return connect.NewResponse(&testv1.PingResponse{Number: 42}), nil
		}
	})
	client := testv1connect.NewTestServiceClient(http.DefaultClient, "http://127.0.0.1:1", connect.WithInterceptors(capture))
	if _, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: 42})); err != nil {
		b.Fatal(err)
	}
	return ctx, req
}

func benchUnaryDirect(b *testing.B, ctx context.Context, req connect.AnyRequest) {
	res := connect.NewResponse(&testv1.PingResponse{Number: 42, Text: "ping"})
	next := connect.UnaryFunc(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return res, nil
	})
	for _, p := range providerSets() {
		for _, c := range interceptors(b, p) {
			b.Run(p.name+"/"+c.name, func(b *testing.B) {
				f := next
				if c.i != nil {
					f = c.i.WrapUnary(next)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkHandlerUnaryDirect calls the handler side of each interceptor
// directly with a captured request.
func BenchmarkHandlerUnaryDirect(b *testing.B) {
	ctx, req := captureHandlerRequest(b)
	benchUnaryDirect(b, ctx, req)
}

// BenchmarkClientUnaryDirect calls the client side of each interceptor
// directly with a captured request.
func BenchmarkClientUnaryDirect(b *testing.B) {
	ctx, req := captureClientRequest(b)
	benchUnaryDirect(b, ctx, req)
}

// BenchmarkHandlerUnaryInFlight is the metrics-only handler call with and
// without WithInFlightMetric (the official package has no in-flight
// metric): the counter is observed at collection, so a call only adds to
// an atomic.
func BenchmarkHandlerUnaryInFlight(b *testing.B) {
	ctx, req := captureHandlerRequest(b)
	res := connect.NewResponse(&testv1.PingResponse{Number: 42, Text: "ping"})
	next := connect.UnaryFunc(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return res, nil
	})
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	for _, inFlight := range []bool{false, true} {
		opts := []otelconnect.Option{
			otelconnect.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelconnect.WithMeterProvider(meter),
			otelconnect.WithPropagator(propagator),
		}
		name := "without"
		if inFlight {
			name = "with"
			opts = append(opts, otelconnect.WithInFlightMetric())
		}
		benchConnectware(b, ctx, req, name, opts, next)
	}
}

// benchConnectware runs name/connectware: a unary call through a
// connectware interceptor built with opts, next answering it.
func benchConnectware(b *testing.B, ctx context.Context, req connect.AnyRequest, name string, opts []otelconnect.Option, next connect.UnaryFunc) {
	b.Helper()
	i, err := otelconnect.NewInterceptor(opts...)
	if err != nil {
		b.Fatal(err)
	}
	f := i.WrapUnary(next)
	b.Run(name+"/connectware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnaryLoopback makes real unary calls over h2c, with the
// interceptor on the client and the handler.
func BenchmarkUnaryLoopback(b *testing.B) {
	for _, p := range providerSets()[:1] {
		for _, c := range interceptors(b, p) {
			b.Run(p.name+"/"+c.name, func(b *testing.B) {
				var hopts []connect.HandlerOption
				var copts []connect.ClientOption
				if c.i != nil {
					hopts = append(hopts, connect.WithInterceptors(c.i))
					copts = append(copts, connect.WithInterceptors(c.i))
				}
				client := newH2CClient(b, newMux(hopts...), copts...)
				ctx := context.Background()
				req := connect.NewRequest(&testv1.PingRequest{Number: 42, Text: "ping"})
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Ping(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// fakeHandlerConn is a handler stream of n requests, answered in memory.
type fakeHandlerConn struct {
	spec     connect.Spec
	peer     connect.Peer
	header   http.Header
	resH     http.Header
	resT     http.Header
	n, count int
}

func (f *fakeHandlerConn) Spec() connect.Spec           { return f.spec }
func (f *fakeHandlerConn) Peer() connect.Peer           { return f.peer }
func (f *fakeHandlerConn) RequestHeader() http.Header   { return f.header }
func (f *fakeHandlerConn) ResponseHeader() http.Header  { return f.resH }
func (f *fakeHandlerConn) ResponseTrailer() http.Header { return f.resT }
func (f *fakeHandlerConn) Send(any) error               { return nil }
func (f *fakeHandlerConn) Receive(msg any) error {
	if f.count >= f.n {
		return io.EOF
	}
	f.count++
	msg.(*testv1.CumSumRequest).Number = int64(f.count)
	return nil
}

// BenchmarkHandlerStreamDirect runs a bidi handler of 1 and 100 messages
// each way through each interceptor, with an in-memory stream: the
// difference between the two is the cost per message.
func BenchmarkHandlerStreamDirect(b *testing.B) {
	handler := func(_ context.Context, conn connect.StreamingHandlerConn) error {
		var req testv1.CumSumRequest
		res := &testv1.CumSumResponse{}
		for {
			if err := conn.Receive(&req); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			res.Sum += req.Number
			if err := conn.Send(res); err != nil {
				return err
			}
		}
	}
	for _, messages := range []int{1, 100} {
		for _, p := range providerSets()[:1] {
			for _, c := range interceptors(b, p) {
				b.Run(p.name+"/messages="+itoa(messages)+"/"+c.name, func(b *testing.B) {
					f := connect.StreamingHandlerFunc(handler)
					if c.i != nil {
						f = c.i.WrapStreamingHandler(f)
					}
					conn := &fakeHandlerConn{
						spec:   connect.Spec{Procedure: testv1connect.TestServiceCumSumProcedure, StreamType: connect.StreamTypeBidi},
						peer:   connect.Peer{Addr: "127.0.0.1:50000", Protocol: connect.ProtocolGRPC},
						header: http.Header{}, resH: http.Header{}, resT: http.Header{},
						n: messages,
					}
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						conn.count = 0
						if err := f(ctx, conn); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// fakeClientConn is a client bidi stream answered in memory: n responses,
// then io.EOF.
type fakeClientConn struct {
	spec     connect.Spec
	peer     connect.Peer
	header   http.Header
	resH     http.Header
	resT     http.Header
	n, count int
}

func (f *fakeClientConn) Spec() connect.Spec           { return f.spec }
func (f *fakeClientConn) Peer() connect.Peer           { return f.peer }
func (f *fakeClientConn) RequestHeader() http.Header   { return f.header }
func (f *fakeClientConn) ResponseHeader() http.Header  { return f.resH }
func (f *fakeClientConn) ResponseTrailer() http.Header { return f.resT }
func (f *fakeClientConn) Send(any) error               { return nil }
func (f *fakeClientConn) CloseRequest() error          { return nil }
func (f *fakeClientConn) CloseResponse() error         { return nil }
func (f *fakeClientConn) Receive(msg any) error {
	if f.count >= f.n {
		return io.EOF
	}
	f.count++
	msg.(*testv1.CumSumResponse).Sum = int64(f.count)
	return nil
}

// BenchmarkClientStreamDirect runs a client bidi stream of 1 and 100
// messages each way through each interceptor, with an in-memory stream and
// a cancelable context (as real calls have).
func BenchmarkClientStreamDirect(b *testing.B) {
	spec := connect.Spec{Procedure: testv1connect.TestServiceCumSumProcedure, StreamType: connect.StreamTypeBidi, IsClient: true}
	for _, messages := range []int{1, 100} {
		for _, p := range providerSets()[:1] {
			for _, c := range interceptors(b, p) {
				b.Run(p.name+"/messages="+itoa(messages)+"/"+c.name, func(b *testing.B) {
					fake := &fakeClientConn{
						spec:   spec,
						peer:   connect.Peer{Addr: "127.0.0.1:8080", Protocol: connect.ProtocolGRPC},
						header: http.Header{}, resH: http.Header{}, resT: http.Header{},
						n: messages,
					}
					f := connect.StreamingClientFunc(func(context.Context, connect.Spec) connect.StreamingClientConn { return fake })
					if c.i != nil {
						f = c.i.WrapStreamingClient(f)
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					req := &testv1.CumSumRequest{Number: 1}
					var res testv1.CumSumResponse
					b.ReportAllocs()
					for b.Loop() {
						fake.count = 0
						conn := f(ctx, spec)
						for range messages {
							if err := conn.Send(req); err != nil {
								b.Fatal(err)
							}
							if err := conn.Receive(&res); err != nil {
								b.Fatal(err)
							}
						}
						_ = conn.CloseRequest()
						if err := conn.Receive(&res); !errors.Is(err, io.EOF) {
							b.Fatal(err)
						}
						_ = conn.CloseResponse()
					}
				})
			}
		}
	}
}

// BenchmarkStreamLoopback makes real 100-message bidi calls over h2c, with
// the interceptor on the client and the handler.
func BenchmarkStreamLoopback(b *testing.B) {
	for _, p := range providerSets()[:1] {
		for _, c := range interceptors(b, p) {
			b.Run(p.name+"/messages=100/"+c.name, func(b *testing.B) {
				var hopts []connect.HandlerOption
				var copts []connect.ClientOption
				if c.i != nil {
					hopts = append(hopts, connect.WithInterceptors(c.i))
					copts = append(copts, connect.WithInterceptors(c.i))
				}
				client := newH2CClient(b, newMux(hopts...), copts...)
				ctx := context.Background()
				req := &testv1.CumSumRequest{Number: 1}
				b.ReportAllocs()
				for b.Loop() {
					stream := client.CumSum(ctx)
					for range 100 {
						if err := stream.Send(req); err != nil {
							b.Fatal(err)
						}
						if _, err := stream.Receive(); err != nil {
							b.Fatal(err)
						}
					}
					if err := stream.CloseRequest(); err != nil {
						b.Fatal(err)
					}
					if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
						b.Fatal(err)
					}
					if err := stream.CloseResponse(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 1 {
		return "1"
	}
	return "100"
}

// pingServer answers Ping and CumSum.
type pingServer struct {
	testv1connect.UnimplementedTestServiceHandler
}

func (pingServer) Ping(_ context.Context, req *connect.Request[testv1.PingRequest]) (*connect.Response[testv1.PingResponse], error) {
	return connect.NewResponse(&testv1.PingResponse{Number: req.Msg.GetNumber(), Text: req.Msg.GetText()}), nil
}

func (pingServer) CumSum(_ context.Context, stream *connect.BidiStream[testv1.CumSumRequest, testv1.CumSumResponse]) error {
	var sum int64
	for {
		msg, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		sum += msg.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: sum}); err != nil {
			return err
		}
	}
}

func newMux(opts ...connect.HandlerOption) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(pingServer{}, opts...))
	return mux
}

// newH2CClient serves h over h2c on loopback for the benchmark's duration
// and returns a Connect (binary) client for it.
func newH2CClient(b *testing.B, h http.Handler, opts ...connect.ClientOption) testv1connect.TestServiceClient {
	b.Helper()
	srv := httptest.NewUnstartedServer(h)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &protocols
	srv.Start()
	var clientProtocols http.Protocols
	clientProtocols.SetUnencryptedHTTP2(true)
	transport := &http.Transport{Protocols: &clientProtocols}
	b.Cleanup(func() {
		transport.CloseIdleConnections()
		srv.Close()
	})
	return testv1connect.NewTestServiceClient(&http.Client{Transport: transport}, srv.URL, opts...)
}

// BenchmarkSDKFloor is what any instrumentation must pay the SDK per
// unary handler call, with every attribute precomputed: start and end a
// server span with four attributes and record one duration. It puts the
// interceptors' figures in perspective.
func BenchmarkSDKFloor(b *testing.B) {
	p := providerSets()[0]
	tracer := p.tracer.Tracer("floor")
	hist, err := p.meter.Meter("floor").Float64Histogram("floor.duration")
	if err != nil {
		b.Fatal(err)
	}
	attrs := []attribute.KeyValue{
		attribute.String("rpc.system.name", "grpc"),
		attribute.String("rpc.method", "connectware.test.v1.TestService/Ping"),
		attribute.String("rpc.response.status_code", "OK"),
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	kind := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, span := tracer.Start(ctx, "connectware.test.v1.TestService/Ping", kind...)
		span.SetAttributes(attrs...)
		span.End()
		hist.Record(c, 0.001, opts...)
	}
}

// BenchmarkSpanStartAttributes is the SDK-traced handler and client calls
// with and without WithSpanStartAttributes (request attributes given to
// Start, where samplers see them, instead of set at the end).
func BenchmarkSpanStartAttributes(b *testing.B) {
	for _, side := range []string{"handler", "client"} {
		ctx, req := captureHandlerRequest(b)
		if side == "client" {
			ctx, req = captureClientRequest(b)
		}
		res := connect.NewResponse(&testv1.PingResponse{Number: 42, Text: "ping"})
		next := connect.UnaryFunc(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
			return res, nil
		})
		for _, atStart := range []bool{false, true} {
			opts := []otelconnect.Option{
				otelconnect.WithTracerProvider(sdktrace.NewTracerProvider()),
				otelconnect.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))),
				otelconnect.WithPropagator(propagator),
			}
			name := side + "/at_end"
			if atStart {
				name = side + "/at_start"
				opts = append(opts, otelconnect.WithSpanStartAttributes())
			}
			benchConnectware(b, ctx, req, name, opts, next)
		}
	}
}
