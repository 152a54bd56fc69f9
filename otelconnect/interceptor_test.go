package otelconnect_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/otelconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func systemName(p testkit.Protocol) string {
	if p == testkit.GRPC || p == testkit.GRPCWeb {
		return "grpc"
	}
	return "connectrpc"
}

// TestMatrixHandler checks, for every network, protocol and RPC kind, that
// a handler records exactly one server span and one duration with the
// default telemetry of otelconnect v0.12.
func TestMatrixHandler(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t)))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _, err := testkit.Call(ctx, c.Client(), st, nil)
				assert.NoError(t, err)
				method := strings.TrimPrefix(testkit.Procedure(st), "/")
				want := []string{
					"rpc.method=" + method,
					"rpc.response.status_code=OK",
					"rpc.system.name=" + systemName(c.Protocol),
				}
				spans := tel.ended()
				assert.Equal(t, len(spans), 1, "spans")
				span := spans[0]
				assert.Equal(t, span.Name(), method)
				assert.Equal(t, span.SpanKind(), trace.SpanKindServer)
				assert.Equal(t, attrs(span.Attributes()), want)
				assert.Equal(t, span.Status().Code, codes.Unset)
				points := histFloat(t, tel.collect(t), "rpc.server.call.duration")
				assert.Equal(t, len(points), 1, "duration points")
				assert.Equal(t, points[0].Count, uint64(1))
				assert.Equal(t, setAttrs(points[0].Attributes), want)
			})
		}
	})
}

// TestMatrixClient checks the same for clients, which add server.address
// and server.port.
func TestMatrixClient(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t)
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		client := c.Client(connect.WithInterceptors(interceptor))
		host, port, err := net.SplitHostPort(c.Server.Addr.String())
		assert.NoError(t, err)
		for _, st := range testkit.StreamTypes() {
			t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _, err := testkit.Call(ctx, client, st, nil)
				method := strings.TrimPrefix(testkit.Procedure(st), "/")
				status := "OK"
				if !testkit.SupportsStream(c.Network, st) {
					// Bidi over HTTP/1.1 fails; it is still one call.
					assert.Error(t, err)
					status = strings.ToUpper(connect.CodeOf(err).String())
				} else {
					assert.NoError(t, err)
				}
				want := []string{
					"rpc.method=" + method,
					"rpc.response.status_code=" + status,
					"rpc.system.name=" + systemName(c.Protocol),
					"server.address=" + host,
					"server.port=" + port,
				}
				if status != "OK" {
					want = append([]string{"error.type=" + status}, want...)
				}
				spans := tel.ended()
				assert.Equal(t, len(spans), 1, "spans")
				span := spans[0]
				assert.Equal(t, span.Name(), method)
				assert.Equal(t, span.SpanKind(), trace.SpanKindClient)
				assert.Equal(t, attrs(span.Attributes()), want)
				points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
				assert.Equal(t, len(points), 1, "duration points")
				assert.Equal(t, points[0].Count, uint64(1))
				assert.Equal(t, setAttrs(points[0].Attributes), want)
			})
		}
	})
}

// TestStatus checks status codes, error.type and the span status rules:
// clients fail on every error, servers only on their own faults.
func TestStatus(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	serverFault := map[connect.Code]bool{
		connect.CodeUnknown: true, connect.CodeDeadlineExceeded: true, connect.CodeUnimplemented: true,
		connect.CodeInternal: true, connect.CodeUnavailable: true, connect.CodeDataLoss: true,
	}
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		client := testkit.NewClient(srv, p, connect.WithInterceptors(interceptor))
		for code := connect.CodeCanceled; code <= connect.CodeUnauthenticated; code++ {
			t.Run("h2c/"+p.String()+"/"+code.String(), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				_, err := client.Fail(context.Background(), connect.NewRequest(&testv1.FailRequest{Code: int32(code), Message: "boom"}))
				assert.Code(t, err, code)
				name := strings.ToUpper(code.String())
				spans := tel.ended()
				assert.Equal(t, len(spans), 2)
				for _, span := range spans {
					a := attrs(span.Attributes())
					assert.True(t, contains(a, "rpc.response.status_code="+name), a)
					assert.True(t, contains(a, "error.type="+name), a)
					wantCode := codes.Error
					if span.SpanKind() == trace.SpanKindServer && !serverFault[code] {
						wantCode = codes.Unset
					}
					assert.Equal(t, span.Status().Code, wantCode, span.SpanKind().String())
					if wantCode == codes.Error {
						assert.Equal(t, span.Status().Description, "boom")
					}
				}
				ms := tel.collect(t)
				for _, name := range []string{"rpc.server.call.duration", "rpc.client.call.duration"} {
					points := histFloat(t, ms, name)
					assert.Equal(t, len(points), 1)
				}
			})
		}
	}
}

// TestPropagationConnect checks that the trace context crosses from a
// connect-go client to the handler: a link by default, a parent with
// WithTrustRemote, and back in the response with WithPropagateResponseHeader.
func TestPropagationConnect(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		name := "untrusted"
		opts := []otelconnect.Option{otelconnect.WithPropagateResponseHeader()}
		if trust {
			name = "trusted"
			opts = append(opts, otelconnect.WithTrustRemote())
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, opts...)))
			testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
				client := c.Client(connect.WithInterceptors(tel.interceptor(t)))
				for _, st := range testkit.StreamTypes() {
					if !testkit.SupportsStream(c.Network, st) {
						continue
					}
					t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
						tel.ended()
						header, _, err := testkit.Call(context.Background(), client, st, nil)
						assert.NoError(t, err)
						spans := tel.ended()
						assert.Equal(t, len(spans), 2)
						var server, clientSpan = spans[0], spans[1]
						if server.SpanKind() != trace.SpanKindServer {
							server, clientSpan = clientSpan, server
						}
						if trust {
							assert.Equal(t, server.Parent().SpanID(), clientSpan.SpanContext().SpanID())
							assert.Equal(t, server.SpanContext().TraceID(), clientSpan.SpanContext().TraceID())
						} else {
							assert.True(t, !server.Parent().IsValid(), "new root")
							assert.True(t, server.SpanContext().TraceID() != clientSpan.SpanContext().TraceID())
							assert.Equal(t, len(server.Links()), 1)
							assert.Equal(t, server.Links()[0].SpanContext.SpanID(), clientSpan.SpanContext().SpanID())
						}
						assert.Contains(t, header.Get("Traceparent"), server.SpanContext().TraceID().String())
					})
				}
			})
		})
	}
}

// TestClientStreamCanceled checks that a client stream whose caller only
// cancels its context, never calling CloseResponse, is recorded exactly
// once, as canceled, with the request header WithTraceRequestHeader asks
// for.
func TestClientStreamCanceled(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t, otelconnect.WithTraceRequestHeader(testkit.HeaderEcho))
	for _, n := range []testkit.Network{testkit.HTTP1, testkit.H2C} {
		srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			t.Run(n.String()+"/"+p.String()+"/server_stream", func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				client := testkit.NewClient(srv, p, connect.WithInterceptors(interceptor))
				ctx, cancel := context.WithCancel(context.Background())
				req := connect.NewRequest(&testv1.CountUpRequest{Number: 3})
				req.Header().Set(testkit.HeaderEcho, "c1")
				stream, err := client.CountUp(ctx, req)
				assert.NoError(t, err)
				assert.True(t, stream.Receive(), "first message")
				cancel()
				tel.waitSpans(t, 1)
				spans := tel.ended()
				assert.Equal(t, len(spans), 1)
				a := attrs(spans[0].Attributes())
				assert.True(t, contains(a, "rpc.response.status_code=CANCELED"), a)
				assert.True(t, contains(a, `rpc.request.metadata.x-test-echo=["c1"]`), a)
				points := histFloat(t, collectAll(t, tel, "rpc.client.call.duration"), "rpc.client.call.duration")
				assert.Equal(t, len(points), 1)
				assert.Equal(t, points[0].Count, uint64(1))
				// Closing afterwards records nothing more.
				_ = stream.Close()
				assert.Equal(t, len(tel.ended()), 0)
				assert.Equal(t, len(tel.collect(t)), 0)
			})
			if !n.HTTP2() {
				continue
			}
			t.Run(n.String()+"/"+p.String()+"/bidi_stream", func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				client := testkit.NewClient(srv, p, connect.WithInterceptors(interceptor))
				ctx, cancel := context.WithCancel(context.Background())
				stream := client.CumSum(ctx)
				stream.RequestHeader().Set(testkit.HeaderEcho, "c2")
				assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
				_, err := stream.Receive()
				assert.NoError(t, err)
				cancel()
				tel.waitSpans(t, 1)
				a := attrs(tel.ended()[0].Attributes())
				assert.True(t, contains(a, "rpc.response.status_code=CANCELED"), a)
				assert.True(t, contains(a, `rpc.request.metadata.x-test-echo=["c2"]`), a)
				points := histFloat(t, collectAll(t, tel, "rpc.client.call.duration"), "rpc.client.call.duration")
				assert.Equal(t, points[0].Count, uint64(1))
				// The stream must still be released.
				_ = stream.CloseRequest()
				_ = stream.CloseResponse()
				assert.Equal(t, len(tel.ended()), 0)
			})
		}
	}
}

// TestClientStreamClosedEarly checks that closing a client stream before
// reading it to the end records the call once.
func TestClientStreamClosedEarly(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(tel.interceptor(t)))
	stream := client.CumSum(context.Background())
	assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
	_, err := stream.Receive()
	assert.NoError(t, err)
	assert.NoError(t, stream.CloseRequest())
	assert.NoError(t, stream.CloseResponse())
	assert.Equal(t, len(tel.ended()), 1)
	points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
	assert.Equal(t, points[0].Count, uint64(1))
}

// TestClientStreamResponseCardinality checks that a client-streaming call
// answered with no message or two, with an OK status, is recorded as
// connect-go's CloseAndReceive fails it: UNIMPLEMENTED, with its message
// (it checks outside the stream, where the interceptor does not see it).
// The connect-go v2 client checks inside the stream: both majors agree.
func TestClientStreamResponseCardinality(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t)
	_, interceptorV2 := tel.v2Interceptors(t)
	var responses atomic.Int32
	mux := http.NewServeMux()
	// A misbehaving Sum: a server-streaming handler (so that it serves
	// HTTP/1.1 too) answering the one request with as many messages as
	// responses says.
	mux.Handle(testv1connect.TestServiceSumProcedure, connect.NewServerStreamHandler(testv1connect.TestServiceSumProcedure,
		func(_ context.Context, _ *connect.Request[testv1.SumRequest], stream *connect.ServerStream[testv1.SumResponse]) error {
			for range responses.Load() {
				if err := stream.Send(&testv1.SumResponse{Sum: 1}); err != nil {
					return err
				}
			}
			return nil
		}))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		client := c.Client(connect.WithInterceptors(interceptor))
		clientV2 := testkitv2.NewClient(c.Server, c.Protocol, nil, interceptorV2)
		for _, n := range []int32{0, 1, 2} {
			want, message := connect.CodeUnimplemented, "unary response has zero messages"
			switch n {
			case 1:
				want, message = 0, ""
			case 2:
				message = "unary response has multiple messages"
			}
			t.Run("responses="+strconv.Itoa(int(n)), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				responses.Store(n)
				stream := client.Sum(callCtx(t))
				assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
				_, err := stream.CloseAndReceive()
				assert.Equal(t, codeOf(err), want, err)
				span := checkClientRecorded(t, tel, want)
				if want != 0 {
					connectErr, ok := errors.AsType[*connect.Error](err)
					assert.True(t, ok, err)
					assert.Equal(t, connectErr.Message(), message)
					assert.Equal(t, span.Status().Description, message, "span status")
				}
			})
			t.Run("v2/responses="+strconv.Itoa(int(n)), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				responses.Store(n)
				stream, err := clientV2.CallClientStream(callCtx(t), testkitv2.SpecOf(connect.StreamTypeClient))
				assert.NoError(t, err)
				assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
				assert.NoError(t, stream.CloseSend())
				err = stream.Receive(&testv1.SumResponse{})
				_ = stream.Close()
				assert.Equal(t, codeOf(err), want, err)
				checkClientRecorded(t, tel, want)
			})
		}
	})
}

// failingCloseRequest sits inside the interceptor under test on a client
// and fails its streams' CloseRequest with err, after closing them, as an
// interceptor enforcing a request quota might.
type failingCloseRequest struct{ err error }

func (failingCloseRequest) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (f failingCloseRequest) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return &closeRequestConn{StreamingClientConn: next(ctx, spec), err: f.err}
	}
}

func (failingCloseRequest) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

type closeRequestConn struct {
	connect.StreamingClientConn
	err error
}

func (c *closeRequestConn) CloseRequest() error {
	_ = c.StreamingClientConn.CloseRequest()
	return c.err
}

// TestClientStreamCloseRequestError checks that a client stream whose
// CloseRequest fails is recorded with that error, for every network,
// protocol and streaming kind, as a connect-go v2 stream's CloseSend error
// is: connect-go's CloseAndReceive and CallServerStream return it (a
// server stream whose request fails to close is never handed to the
// caller, and ends with its context), and a bidi caller may ignore it.
func TestClientStreamCloseRequestError(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	quota := connect.NewError(connect.CodeResourceExhausted, errors.New("request quota spent"))
	interceptors := connect.WithInterceptors(tel.interceptor(t), failingCloseRequest{quota})
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		client := c.Client(interceptors)
		for _, st := range []connect.StreamType{connect.StreamTypeClient, connect.StreamTypeServer, connect.StreamTypeBidi} {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				ctx, cancel := context.WithCancel(context.Background())
				_, _, err := testkit.Call(ctx, client, st, nil)
				cancel()
				if st == connect.StreamTypeBidi {
					assert.NoError(t, err) // the caller ignores it
				} else {
					assert.Equal(t, err, error(quota))
				}
				span := checkClientRecorded(t, tel, connect.CodeResourceExhausted)
				assert.Equal(t, span.Status().Description, "request quota spent")
			})
		}
	})
}

func TestServerPeerAttributes(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithServerPeerAttributes())))
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectProto), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	spans := tel.ended()
	a := attrs(spans[0].Attributes())
	assert.True(t, contains(a, "network.peer.address=127.0.0.1"), a)
	assert.True(t, hasKeyPrefix(a, "network.peer.port="), a)
	points := histFloat(t, tel.collect(t), "rpc.server.call.duration")
	assert.True(t, !hasKeyPrefix(setAttrs(points[0].Attributes), "network.peer"), "metrics never carry the peer")
}

func TestHeaderCapture(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	opts := []otelconnect.Option{
		otelconnect.WithTraceRequestHeader(testkit.HeaderEcho),
		otelconnect.WithTraceResponseHeader(testkit.HeaderEcho),
	}
	interceptor := tel.interceptor(t, opts...)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			header := http.Header{testkit.HeaderEcho: []string{"v1"}}
			_, _, err := testkit.Call(context.Background(), client, st, header)
			assert.NoError(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 2)
			for _, span := range spans {
				a := attrs(span.Attributes())
				assert.True(t, contains(a, "rpc.request.metadata.x-test-echo=[\"v1\"]"), span.SpanKind().String(), strings.Join(a, " "))
				assert.True(t, contains(a, "rpc.response.metadata.x-test-echo=[\"v1\"]"), span.SpanKind().String(), strings.Join(a, " "))
			}
			for _, m := range tel.collect(t) {
				_ = m
			}
		})
	}
}

func TestRPCSystem(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithRPCSystem(otelconnect.GRPCSystem))))
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectJSON), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	a := attrs(tel.ended()[0].Attributes())
	assert.True(t, contains(a, "rpc.system.name=grpc"), a)
}

func TestDurationHistogramOptions(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t)))
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectJSON), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	points := histFloat(t, tel.collect(t), "rpc.server.call.duration")
	assert.Equal(t, points[0].Bounds, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10})

	tel2 := newTelemetry(t)
	mux2 := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel2.interceptor(t, otelconnect.WithDurationHistogramOptions(metricBuckets(1, 2)))))
	srv2 := testkit.NewServer(t, mux2, testkit.HTTP1)
	_, _, err = testkit.Call(context.Background(), testkit.NewClient(srv2, testkit.ConnectJSON), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	points = histFloat(t, tel2.collect(t), "rpc.server.call.duration")
	assert.Equal(t, points[0].Bounds, []float64{1, 2})
}

func TestLabeler(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	svc := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
		l, ok := otelconnect.LabelerFromContext(ctx)
		if !ok {
			return connect.NewError(connect.CodeInternal, nil)
		}
		l.Add(attributeString("tenant", "acme"))
		return nil
	}}
	interceptor := tel.interceptor(t)
	mux := testkit.NewMux(svc, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/connect_proto/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectProto), st, nil)
			assert.NoError(t, err)
			points := histFloat(t, tel.collect(t), "rpc.server.call.duration")
			assert.Equal(t, len(points), 1)
			assert.True(t, contains(setAttrs(points[0].Attributes), "tenant=acme"))
			assert.True(t, !contains(attrs(tel.ended()[0].Attributes()), "tenant=acme"), "labels are for metrics only")
		})
	}
	// A client call carries the Labeler of its context.
	t.Run("client", func(t *testing.T) {
		tel.collect(t)
		l := &otelconnect.Labeler{}
		l.Add(attributeString("caller", "batch"))
		ctx := otelconnect.ContextWithLabeler(context.Background(), l)
		client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(interceptor))
		_, _, err := testkit.Call(ctx, client, connect.StreamTypeUnary, nil)
		assert.NoError(t, err)
		points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
		assert.True(t, contains(setAttrs(points[0].Attributes), "caller=batch"))
		assert.Equal(t, len(l.Get()), 1)
	})
	t.Run("from_context", func(t *testing.T) {
		l, ok := otelconnect.LabelerFromContext(context.Background())
		assert.True(t, !ok)
		l.Add(attributeString("a", "b")) // safe, no effect
	})
}

func TestWithoutTracingAndMetrics(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithoutTracing())))
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectJSON), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 0)
	assert.Equal(t, len(histFloat(t, tel.collect(t), "rpc.server.call.duration")), 1)

	mux = testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithoutMetrics())))
	srv = testkit.NewServer(t, mux, testkit.HTTP1)
	_, _, err = testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectJSON), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 1)
	assert.Equal(t, len(tel.collect(t)), 0)
}

func TestMessageEvents(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		t.Run("events_"+strconv.FormatBool(on), func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			var opts []otelconnect.Option
			if on {
				opts = append(opts, otelconnect.WithMessageEvents())
			}
			interceptor := tel.interceptor(t, opts...)
			mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
			srv := testkit.NewServer(t, mux, testkit.H2C)
			client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
			// Bidi: 3 messages each way on both sides.
			_, _, err := testkit.Call(context.Background(), client, connect.StreamTypeBidi, nil)
			assert.NoError(t, err)
			for _, span := range tel.ended() {
				events := span.Events()
				if !on {
					assert.Equal(t, len(events), 0)
					continue
				}
				assert.Equal(t, len(events), 6, span.SpanKind().String())
				var sent, received int
				for _, e := range events {
					assert.Equal(t, e.Name, "message")
					a := attrs(e.Attributes)
					switch {
					case contains(a, "rpc.message.type=SENT"):
						sent++
					case contains(a, "rpc.message.type=RECEIVED"):
						received++
					}
					assert.True(t, hasKeyPrefix(a, "rpc.message.uncompressed_size="), a)
				}
				assert.Equal(t, sent, 3)
				assert.Equal(t, received, 3)
			}
		})
	}
}

// TestClientStreamExactlyOnceConcurrent races context cancellation against
// the stream's own end in many concurrent calls: each is recorded exactly
// once (run with -race).
func TestClientStreamExactlyOnceConcurrent(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(tel.interceptor(t)))
	const calls = 40
	done := make(chan struct{}, calls)
	for i := range calls {
		go func() {
			defer func() { done <- struct{}{} }()
			ctx, cancel := context.WithCancel(context.Background())
			stream, err := client.CountUp(ctx, connect.NewRequest(&testv1.CountUpRequest{Number: 3}))
			if err != nil {
				cancel()
				return
			}
			for j := 0; stream.Receive(); j++ {
				if j == i%4 {
					cancel() // sometimes mid-stream, sometimes never reached
				}
			}
			cancel()
			if i%2 == 0 {
				_ = stream.Close()
			}
		}()
	}
	for range calls {
		<-done
	}
	tel.waitSpans(t, calls)
	assert.Equal(t, len(tel.ended()), calls)
	points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
	var total uint64
	for _, p := range points {
		total += p.Count
	}
	assert.Equal(t, total, uint64(calls))
}

// TestPropagateResponseWithoutTracing: with tracing off, a handler with
// WithPropagateResponseHeader still sends back the trace context it was
// called in (the caller's), on unary and streaming calls alike, on v1 and
// v2, as connectrpc.com/otelconnect does.
func TestPropagateResponseWithoutTracing(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	opts := []otelconnect.Option{otelconnect.WithoutTracing(), otelconnect.WithPropagateResponseHeader(), otelconnect.WithTrustRemote()}
	parent := "00-" + trace.TraceID{0xab, 7}.String() + "-0102030405060708-01"
	v1 := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, opts...))), testkit.H2C)
	server, _ := tel.v2Interceptors(t, opts...)
	v2 := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc/"+testkit.StreamTypeName(st), func(t *testing.T) {
			h, _, err := testkit.Call(context.Background(), testkit.NewClient(v1, testkit.GRPC), st, http.Header{"Traceparent": {parent}})
			assert.NoError(t, err)
			assert.Equal(t, h.Get("Traceparent"), parent, "v1")
			info, err := v2Call(callCtx(t), testkitv2.NewClient(v2, testkit.GRPC, nil), st, http.Header{"Traceparent": {parent}})
			assert.NoError(t, err)
			assert.Equal(t, info.ResponseHeader().Get("Traceparent"), parent, "v2")
		})
	}
}
