package otelconnect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/otelconnect"
)

// The connect-go v2 interceptors, over the wire: a connect-go v2 server on
// loopback (HTTP/1.1 and h2c, connecthttp.Mount) and connect-go v2 clients
// in the Connect (binary and JSON), gRPC and gRPC-Web protocols, for the
// four RPC kinds (no bidi over HTTP/1.1).

// v2Cases runs fn for every network, protocol and RPC kind the v2 tests
// cover, with a server of h on each network.
func v2Cases(t *testing.T, h http.Handler, fn func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType)) {
	t.Helper()
	for _, n := range v2Networks() {
		srv := testkit.NewServer(t, h, n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			for _, st := range testkit.StreamTypes() {
				if !testkit.SupportsStream(n, st) {
					continue
				}
				t.Run(n.String()+"/v2/"+p.String()+"/"+testkit.StreamTypeName(st), func(t *testing.T) {
					fn(t, srv, p, st)
				})
			}
		}
	}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestV2MatrixHandler checks that NewServerInterceptor records exactly one
// server span and one duration per call, with the attributes of
// TestMatrixHandler, for every network, protocol and RPC kind.
func TestV2MatrixHandler(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, _ := tel.v2Interceptors(t)
	v2Cases(t, (&v2PingServer{}).handler(server), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		tel.ended()
		tel.collect(t)
		_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, p, nil), st, nil)
		assert.NoError(t, err)
		method := strings.TrimPrefix(testkit.Procedure(st), "/")
		want := []string{
			"rpc.method=" + method,
			"rpc.response.status_code=OK",
			"rpc.system.name=" + systemName(p),
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

// TestV2MatrixClient checks the same for NewClientInterceptor, whose spans
// and metrics add server.address and server.port.
func TestV2MatrixClient(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, client := tel.v2Interceptors(t)
	v2Cases(t, (&v2PingServer{}).handler(), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		tel.ended()
		tel.collect(t)
		host, port, err := net.SplitHostPort(srv.Addr.String())
		assert.NoError(t, err)
		_, err = v2Call(callCtx(t), testkitv2.NewClient(srv, p, nil, client), st, nil)
		assert.NoError(t, err)
		method := strings.TrimPrefix(testkit.Procedure(st), "/")
		want := []string{
			"rpc.method=" + method,
			"rpc.response.status_code=OK",
			"rpc.system.name=" + systemName(p),
			"server.address=" + host,
			"server.port=" + port,
		}
		spans := tel.ended()
		assert.Equal(t, len(spans), 1, "spans")
		span := spans[0]
		assert.Equal(t, span.Name(), method)
		assert.Equal(t, span.SpanKind(), trace.SpanKindClient)
		assert.Equal(t, attrs(span.Attributes()), want)
		assert.Equal(t, span.Status().Code, codes.Unset)
		points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
		assert.Equal(t, len(points), 1, "duration points")
		assert.Equal(t, points[0].Count, uint64(1))
		assert.Equal(t, setAttrs(points[0].Attributes), want)
	})
}

// TestV2Status checks every error code on both sides: rpc.response.status_code
// and error.type, the span status by the conventions (clients fail on every
// error, servers on theirs only) with the error's message, and a duration.
func TestV2Status(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t)
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	serverFault := map[connectv2.Code]bool{
		connectv2.CodeUnknown: true, connectv2.CodeDeadlineExceeded: true, connectv2.CodeUnimplemented: true,
		connectv2.CodeInternal: true, connectv2.CodeUnavailable: true, connectv2.CodeDataLoss: true,
	}
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		c := testkitv2.NewClient(srv, p, nil, client)
		for code := connectv2.CodeCanceled; code <= connectv2.CodeUnauthenticated; code++ {
			t.Run("h2c/v2/"+p.String()+"/"+code.String(), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				err := c.CallUnary(callCtx(t), testkitv2.Spec(testv1connect.TestServiceFailProcedure),
					&testv1.FailRequest{Code: int32(code), Message: "boom"}, &testv1.FailResponse{})
				assert.Equal(t, connectv2.CodeOf(err), code, err)
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
					assert.True(t, contains(setAttrs(points[0].Attributes), "error.type="+strings.ToUpper(code.String())))
				}
			})
		}
	}
}

// TestV2StreamErrors checks that a failing call of every kind is recorded
// with its code on both sides.
func TestV2StreamErrors(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t)
	svc := &v2PingServer{onCall: func(context.Context, string) error {
		return connectv2.NewError(connectv2.CodeDataLoss, "lost")
	}}
	v2Cases(t, svc.handler(server), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		tel.ended()
		tel.collect(t)
		_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, p, nil, client), st, nil)
		assert.Equal(t, connectv2.CodeOf(err), connectv2.CodeDataLoss, err)
		spans := tel.ended()
		assert.Equal(t, len(spans), 2)
		for _, span := range spans {
			a := attrs(span.Attributes())
			assert.True(t, contains(a, "rpc.response.status_code=DATA_LOSS"), span.SpanKind().String(), a)
			assert.True(t, contains(a, "error.type=DATA_LOSS"), a)
			assert.Equal(t, span.Status().Code, codes.Error)
			assert.Equal(t, span.Status().Description, "lost")
		}
		ms := tel.collect(t)
		assert.Equal(t, len(histFloat(t, ms, "rpc.server.call.duration")), 1)
		assert.Equal(t, len(histFloat(t, ms, "rpc.client.call.duration")), 1)
	})
}

// TestV2Propagation checks that the trace context crosses from a v2 client
// to a v2 handler, for every protocol and kind: a link by default, a parent
// (the same trace) with WithTrustRemote, and back in the response header
// with WithPropagateResponseHeader.
func TestV2Propagation(t *testing.T) {
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
			server, _ := tel.v2Interceptors(t, opts...)
			_, client := tel.v2Interceptors(t)
			v2Cases(t, (&v2PingServer{}).handler(server), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
				tel.ended()
				info, err := v2Call(callCtx(t), testkitv2.NewClient(srv, p, nil, client), st, nil)
				assert.NoError(t, err)
				spans := tel.ended()
				assert.Equal(t, len(spans), 2)
				serverSpan, clientSpan := spans[0], spans[1]
				if serverSpan.SpanKind() != trace.SpanKindServer {
					serverSpan, clientSpan = clientSpan, serverSpan
				}
				assert.Equal(t, serverSpan.SpanKind(), trace.SpanKindServer)
				assert.Equal(t, clientSpan.SpanKind(), trace.SpanKindClient)
				if trust {
					assert.Equal(t, serverSpan.Parent().SpanID(), clientSpan.SpanContext().SpanID())
					assert.Equal(t, serverSpan.SpanContext().TraceID(), clientSpan.SpanContext().TraceID())
				} else {
					assert.True(t, !serverSpan.Parent().IsValid(), "new root")
					assert.True(t, serverSpan.SpanContext().TraceID() != clientSpan.SpanContext().TraceID())
					assert.Equal(t, len(serverSpan.Links()), 1)
					assert.Equal(t, serverSpan.Links()[0].SpanContext.SpanID(), clientSpan.SpanContext().SpanID())
				}
				assert.Contains(t, info.ResponseHeader().Get("Traceparent"), serverSpan.SpanContext().SpanID().String())
			})
		})
	}
}

// TestV2ContinuesCallerTrace checks that a v2 client span is a child of
// the span in its caller's context, and a v2 handler's outgoing v2 call a
// child of the handler's span.
func TestV2ContinuesCallerTrace(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t, otelconnect.WithTrustRemote())
	backend := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	front := &v2PingServer{onCall: func(ctx context.Context, procedure string) error {
		if procedure != testv1connect.TestServicePingProcedure {
			return nil
		}
		var res testv1.PingResponse
		return testkitv2.NewClient(backend, testkit.GRPC, nil, client).CallUnary(ctx, testkitv2.Spec(procedure), &testv1.PingRequest{Number: 1}, &res)
	}}
	srv := testkit.NewServer(t, front.handler(server), testkit.H2C)
	ctx, root := tel.tp.Tracer("test").Start(context.Background(), "root")
	_, err := v2Call(ctx, testkitv2.NewClient(srv, testkit.ConnectProto, nil, client), connect.StreamTypeUnary, nil)
	root.End()
	assert.NoError(t, err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 5) // root, 2 clients, 2 servers
	for _, span := range spans {
		assert.Equal(t, span.SpanContext().TraceID(), root.SpanContext().TraceID(), span.Name())
	}
}

// TestV2ClientStreamCanceled checks that a v2 client stream whose caller
// only cancels its context, never reading to the end or closing, is
// recorded exactly once, as canceled.
func TestV2ClientStreamCanceled(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, client := tel.v2Interceptors(t, otelconnect.WithTraceRequestHeader(testkit.HeaderEcho))
	for _, n := range v2Networks() {
		srv := testkit.NewServer(t, (&v2PingServer{}).handler(), n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			t.Run(n.String()+"/v2/"+p.String()+"/server_stream", func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				c := testkitv2.NewClient(srv, p, nil, client)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stream, err := c.CallServerStream(ctx, testkitv2.SpecOf(connect.StreamTypeServer), &testv1.CountUpRequest{Number: 3})
				assert.NoError(t, err)
				assert.NoError(t, stream.Receive(&testv1.CountUpResponse{}))
				cancel()
				tel.waitSpans(t, 1)
				spans := tel.ended()
				assert.Equal(t, len(spans), 1)
				a := attrs(spans[0].Attributes())
				assert.True(t, contains(a, "rpc.response.status_code=CANCELED"), a)
				points := histFloat(t, collectAll(t, tel, "rpc.client.call.duration"), "rpc.client.call.duration")
				assert.Equal(t, len(points), 1)
				assert.Equal(t, points[0].Count, uint64(1))
				// Ending the stream afterwards records nothing more.
				_ = stream.Receive(&testv1.CountUpResponse{})
				_ = stream.Close()
				assert.Equal(t, len(tel.ended()), 0)
				assert.Equal(t, len(tel.collect(t)), 0)
			})
			if !n.HTTP2() {
				continue
			}
			t.Run(n.String()+"/v2/"+p.String()+"/bidi_stream", func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				c := testkitv2.NewClient(srv, p, nil, client)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ctx, info := connectv2.NewClientContext(ctx)
				info.RequestHeader().Set(testkit.HeaderEcho, "c3")
				stream, err := c.CallClientStream(ctx, testkitv2.SpecOf(connect.StreamTypeBidi))
				assert.NoError(t, err)
				assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
				assert.NoError(t, stream.Receive(&testv1.CumSumResponse{}))
				cancel()
				tel.waitSpans(t, 1)
				a := attrs(tel.ended()[0].Attributes())
				assert.True(t, contains(a, "rpc.response.status_code=CANCELED"), a)
				assert.True(t, contains(a, `rpc.request.metadata.x-test-echo=["c3"]`), a)
				points := histFloat(t, collectAll(t, tel, "rpc.client.call.duration"), "rpc.client.call.duration")
				assert.Equal(t, points[0].Count, uint64(1))
				_ = stream.CloseSend()
				_ = stream.Close()
				assert.Equal(t, len(tel.ended()), 0)
			})
		}
	}
}

// TestV2ClientStreamClosedEarly checks that closing a v2 client stream
// before reading it to the end records the call once, as OK.
func TestV2ClientStreamClosedEarly(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, client := tel.v2Interceptors(t)
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(), testkit.H2C)
	stream, err := testkitv2.NewClient(srv, testkit.GRPC, nil, client).CallClientStream(context.Background(), testkitv2.SpecOf(connect.StreamTypeBidi))
	assert.NoError(t, err)
	assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
	assert.NoError(t, stream.Receive(&testv1.CumSumResponse{}))
	assert.NoError(t, stream.CloseSend())
	_ = stream.Close()
	_ = stream.Close()
	spans := tel.ended()
	assert.Equal(t, len(spans), 1)
	assert.True(t, contains(attrs(spans[0].Attributes()), "rpc.response.status_code=OK"))
	points := histFloat(t, tel.collect(t), "rpc.client.call.duration")
	assert.Equal(t, points[0].Count, uint64(1))
}

// TestV2ClientStreamExactlyOnceConcurrent races context cancellation
// against the v2 stream's own end in many concurrent calls: each is
// recorded exactly once (run with -race).
func TestV2ClientStreamExactlyOnceConcurrent(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, client := tel.v2Interceptors(t)
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(), testkit.H2C)
	c := testkitv2.NewClient(srv, testkit.GRPC, nil, client)
	const calls = 40
	done := make(chan struct{}, calls)
	for i := range calls {
		go func() {
			defer func() { done <- struct{}{} }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := c.CallServerStream(ctx, testkitv2.SpecOf(connect.StreamTypeServer), &testv1.CountUpRequest{Number: 3})
			if err != nil {
				return
			}
			for j := 0; stream.Receive(&testv1.CountUpResponse{}) == nil; j++ {
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
	var total uint64
	for _, p := range histFloat(t, tel.collect(t), "rpc.client.call.duration") {
		total += p.Count
	}
	assert.Equal(t, total, uint64(calls))
}

// TestV2OpenError checks that a v2 call whose stream cannot be opened (an
// unknown send compression) is recorded once, with its error.
func TestV2OpenError(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, client := tel.v2Interceptors(t, otelconnect.WithInFlightMetric())
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(), testkit.H2C)
	c := testkitv2.NewClient(srv, testkit.ConnectProto, []connecthttp.Option{connecthttp.WithSendCompression("nope")}, client)
	for _, st := range testkit.StreamTypes() {
		t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, err := v2Call(callCtx(t), c, st, nil)
			assert.Error(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 1)
			assert.True(t, contains(attrs(spans[0].Attributes()), "rpc.response.status_code=UNKNOWN"), attrs(spans[0].Attributes()))
			assert.Equal(t, spans[0].Status().Code, codes.Error)
			ms := tel.collect(t)
			assert.Equal(t, histFloat(t, ms, "rpc.client.call.duration")[0].Count, uint64(1))
			active := ms["rpc.client.active_calls"].Data.(metricdata.Sum[int64])
			for _, p := range active.DataPoints {
				assert.Equal(t, p.Value, int64(0), "no call left in flight")
			}
		})
	}
}

// TestV2HandlerPanic checks that a v2 call whose handler panics is recorded
// once, as UNKNOWN, and the panic goes on (net/http ends the request).
func TestV2HandlerPanic(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, _ := tel.v2Interceptors(t, otelconnect.WithInFlightMetric())
	svc := &v2PingServer{onCall: func(context.Context, string) error { panic(http.ErrAbortHandler) }}
	srv := testkit.NewServer(t, svc.handler(server), testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/v2/connect_proto/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.ConnectProto, nil), st, nil)
			assert.Error(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 1)
			assert.True(t, contains(attrs(spans[0].Attributes()), "rpc.response.status_code=UNKNOWN"))
			assert.Equal(t, spans[0].Status().Code, codes.Error)
			ms := tel.collect(t)
			assert.Equal(t, len(histFloat(t, ms, "rpc.server.call.duration")), 1)
			for _, p := range ms["rpc.server.active_calls"].Data.(metricdata.Sum[int64]).DataPoints {
				assert.Equal(t, p.Value, int64(0), "no call left in flight")
			}
		})
	}
}

// TestV2NotModified checks that connect-go v2's "304 Not Modified" is no
// failure on either side (status OK, http.response.status_code 304, no
// error.type, no error status), and that an UNKNOWN error merely saying
// "not modified" is a failure.
func TestV2NotModified(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t)
	svc := &v2PingServer{ping: func(ctx context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
		if err := stream.Receive(&testv1.PingRequest{}); err != nil {
			return err
		}
		info, _ := connectv2.CallInfoForServerContext(ctx)
		info.ResponseHeader().Set("Etag", `"v1"`)
		return connecthttp.NewNotModifiedError()
	}}
	srv := testkit.NewServer(t, svc.handler(server), testkit.HTTP1)
	c := testkitv2.NewClient(srv, testkit.ConnectProto, []connecthttp.Option{connecthttp.WithHTTPGet()}, client)
	err := c.CallUnary(callCtx(t), testkitv2.Spec(testv1connect.TestServicePingProcedure), &testv1.PingRequest{Number: 1}, &testv1.PingResponse{})
	assert.True(t, connecthttp.IsNotModifiedError(err), err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		a := attrs(span.Attributes())
		assert.True(t, contains(a, "rpc.response.status_code=OK"), span.SpanKind().String(), a)
		assert.True(t, contains(a, "http.response.status_code=304"), span.SpanKind().String(), a)
		assert.True(t, !hasKeyPrefix(a, "error.type="), span.SpanKind().String())
		assert.Equal(t, span.Status().Code, codes.Unset)
	}

	impostor := &v2PingServer{ping: func(context.Context, connectv2.Spec, connectv2.ServerStream) error {
		return connectv2.NewError(connectv2.CodeUnknown, "not modified")
	}}
	srv = testkit.NewServer(t, impostor.handler(server), testkit.HTTP1)
	c = testkitv2.NewClient(srv, testkit.ConnectProto, []connecthttp.Option{connecthttp.WithHTTPGet()}, client)
	err = c.CallUnary(callCtx(t), testkitv2.Spec(testv1connect.TestServicePingProcedure), &testv1.PingRequest{Number: 1}, &testv1.PingResponse{})
	assert.True(t, err != nil && !connecthttp.IsNotModifiedError(err), err)
	for _, span := range tel.ended() {
		assert.True(t, contains(attrs(span.Attributes()), "rpc.response.status_code=UNKNOWN"), span.SpanKind().String())
	}
}

// TestV2Filter checks WithFilter on the v2 interceptors with a filter of
// either major's spec: a v1 spec says which side it is on.
func TestV2Filter(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	var sawClient, sawServer atomic.Bool
	v1Filter := func(_ context.Context, spec connect.Spec) bool {
		if spec.IsClient {
			sawClient.Store(true)
		} else {
			sawServer.Store(true)
		}
		return spec.Procedure != testv1connect.TestServicePingProcedure
	}
	v2Filter := func(_ context.Context, spec connectv2.Spec) bool {
		return spec.StreamType != connectv2.StreamTypeServer
	}
	server, client := tel.v2Interceptors(t, otelconnect.WithFilter(v1Filter))
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	c := testkitv2.NewClient(srv, testkit.GRPC, nil, client)
	_, err := v2Call(callCtx(t), c, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 0)
	assert.True(t, sawClient.Load() && sawServer.Load(), "the v1 spec's IsClient follows the side")
	_, err = v2Call(callCtx(t), c, connect.StreamTypeClient, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 2)

	server, client = tel.v2Interceptors(t, otelconnect.WithFilter(v2Filter))
	srv = testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	c = testkitv2.NewClient(srv, testkit.GRPC, nil, client)
	_, err = v2Call(callCtx(t), c, connect.StreamTypeServer, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 0)
	_, err = v2Call(callCtx(t), c, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 2)

	// A v2 filter on the v1 interceptor.
	v1Srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	v1Client := testkit.NewClient(v1Srv, testkit.GRPC, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithFilter(v2Filter))))
	_, _, err = testkit.Call(callCtx(t), v1Client, connect.StreamTypeServer, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 0)
	_, _, err = testkit.Call(callCtx(t), v1Client, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 1)
	tel.collect(t)
}

// TestV2AttributeFilter checks WithAttributeFilter with a filter of the v2
// spec, on v2 and v1 interceptors alike.
func TestV2AttributeFilter(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	dropPort := func(spec connectv2.Spec, kv attribute.KeyValue) bool {
		return !(spec.Procedure == testv1connect.TestServicePingProcedure && kv.Key == "server.port")
	}
	_, client := tel.v2Interceptors(t, otelconnect.WithAttributeFilter(dropPort))
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(), testkit.H2C)
	_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.GRPC, nil, client), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	v1Srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	v1Client := testkit.NewClient(v1Srv, testkit.GRPC, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithAttributeFilter(dropPort))))
	_, _, err = testkit.Call(callCtx(t), v1Client, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		a := attrs(span.Attributes())
		assert.True(t, !hasKeyPrefix(a, "server.port="), a)
		assert.True(t, hasKeyPrefix(a, "server.address="), a)
	}
	for _, p := range histFloat(t, tel.collect(t), "rpc.client.call.duration") {
		assert.True(t, !hasKeyPrefix(setAttrs(p.Attributes), "server.port="))
	}
}

// TestV2Labeler checks that a v2 handler finds the call's Labeler in its
// context, and a v2 client call carries its context's Labeler, onto the
// duration metrics only.
func TestV2Labeler(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t)
	svc := &v2PingServer{onCall: func(ctx context.Context, _ string) error {
		l, ok := otelconnect.LabelerFromContext(ctx)
		if !ok {
			return connectv2.NewError(connectv2.CodeInternal, "no labeler")
		}
		l.Add(attributeString("tenant", "acme"))
		return nil
	}}
	srv := testkit.NewServer(t, svc.handler(server), testkit.H2C)
	l := &otelconnect.Labeler{}
	l.Add(attributeString("caller", "batch"))
	ctx := otelconnect.ContextWithLabeler(callCtx(t), l)
	for _, st := range testkit.StreamTypes() {
		t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, err := v2Call(ctx, testkitv2.NewClient(srv, testkit.GRPC, nil, client), st, nil)
			assert.NoError(t, err)
			ms := tel.collect(t)
			assert.True(t, contains(setAttrs(histFloat(t, ms, "rpc.server.call.duration")[0].Attributes), "tenant=acme"))
			assert.True(t, contains(setAttrs(histFloat(t, ms, "rpc.client.call.duration")[0].Attributes), "caller=batch"))
			for _, span := range tel.ended() {
				a := attrs(span.Attributes())
				assert.True(t, !contains(a, "tenant=acme") && !contains(a, "caller=batch"), "labels are for metrics only")
			}
		})
	}
}

// TestV2HeaderCapture checks WithTraceRequestHeader and
// WithTraceResponseHeader on both v2 sides, for every kind.
func TestV2HeaderCapture(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t,
		otelconnect.WithTraceRequestHeader(testkit.HeaderEcho),
		otelconnect.WithTraceResponseHeader(testkit.HeaderEcho),
	)
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/v2/grpc/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.GRPC, nil, client), st, http.Header{testkit.HeaderEcho: []string{"v2"}})
			assert.NoError(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 2)
			for _, span := range spans {
				a := attrs(span.Attributes())
				assert.True(t, contains(a, `rpc.request.metadata.x-test-echo=["v2"]`), span.SpanKind().String(), strings.Join(a, " "))
				assert.True(t, contains(a, `rpc.response.metadata.x-test-echo=["v2"]`), span.SpanKind().String(), strings.Join(a, " "))
			}
			tel.collect(t)
		})
	}
}

// TestV2MessageEvents checks WithMessageEvents on both v2 sides: a bidi
// call of three messages each way has three SENT and three RECEIVED events
// on each span, numbered from 1.
func TestV2MessageEvents(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t, otelconnect.WithMessageEvents())
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.H2C)
	_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.GRPC, nil, client), connect.StreamTypeBidi, nil)
	assert.NoError(t, err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		var sent, received int
		for _, e := range span.Events() {
			a := attrs(e.Attributes)
			switch {
			case contains(a, "rpc.message.type=SENT"):
				sent++
				assert.True(t, contains(a, fmt.Sprintf("rpc.message.id=%d", sent)), a)
			case contains(a, "rpc.message.type=RECEIVED"):
				received++
				assert.True(t, contains(a, fmt.Sprintf("rpc.message.id=%d", received)), a)
			}
		}
		assert.Equal(t, sent, 3, span.SpanKind().String())
		assert.Equal(t, received, 3, span.SpanKind().String())
	}
	tel.collect(t)
}

// fakeServerStream is a v2 server stream with one request and no peer.
type fakeServerStream struct{ received bool }

func (s *fakeServerStream) Receive(any) error {
	if s.received {
		return io.EOF
	}
	s.received = true
	return nil
}
func (*fakeServerStream) SendHeaders() error { return nil }
func (*fakeServerStream) Send(any) error     { return nil }

// fakeClientStream is a v2 client stream that ends at once.
type fakeClientStream struct{}

func (fakeClientStream) SendHeaders() error { return nil }
func (fakeClientStream) Send(any) error     { return nil }
func (fakeClientStream) CloseSend() error   { return nil }
func (fakeClientStream) Receive(any) error  { return io.EOF }
func (fakeClientStream) Close() error       { return nil }

// TestV2WithoutCallInfo checks that the v2 interceptors work when called
// directly, outside a connect-go Server or Client, with no CallInfo in the
// context: they record the call, and the client's trace context goes into
// the CallInfo it creates.
func TestV2WithoutCallInfo(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t, otelconnect.WithMessageEvents(), otelconnect.WithPropagateResponseHeader())
	spec := testkitv2.Spec(testv1connect.TestServicePingProcedure)
	handler := server(func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
		if err := stream.Receive(&testv1.PingRequest{}); err != nil {
			return err
		}
		return stream.Send(&testv1.PingResponse{})
	})
	assert.NoError(t, handler(context.Background(), spec, &fakeServerStream{}))
	var traceparent string
	open := client(func(ctx context.Context, _ connectv2.Spec) (connectv2.ClientStream, error) {
		info, ok := connectv2.CallInfoForClientContext(ctx)
		assert.True(t, ok, "the interceptor made a CallInfo")
		traceparent = info.RequestHeader().Get("Traceparent")
		return fakeClientStream{}, nil
	})
	stream, err := open(context.Background(), spec)
	assert.NoError(t, err)
	assert.NoError(t, stream.Send(&testv1.PingRequest{}))
	assert.True(t, errors.Is(stream.Receive(&testv1.PingResponse{}), io.EOF))
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		assert.True(t, contains(attrs(span.Attributes()), "rpc.system.name=connectrpc"), attrs(span.Attributes()))
		assert.True(t, contains(attrs(span.Attributes()), "rpc.response.status_code=OK"), attrs(span.Attributes()))
		if span.SpanKind() == trace.SpanKindClient {
			assert.Equal(t, len(span.Events()), 1) // sent; the stream ended at once
			assert.Contains(t, traceparent, span.SpanContext().SpanID().String())
		} else {
			assert.Equal(t, len(span.Events()), 2) // received, sent
		}
	}
	tel.collect(t)
}

// parityOptions are the options of TestV2Parity: every kind of telemetry
// the interceptors can record.
func parityOptions() []otelconnect.Option {
	return []otelconnect.Option{
		otelconnect.WithConventions(otelconnect.ConventionsDup),
		otelconnect.WithTraceRequestHeader(testkit.HeaderEcho),
		otelconnect.WithTraceResponseHeader(testkit.HeaderEcho),
		otelconnect.WithMessageEvents(),
		otelconnect.WithInFlightMetric(),
		otelconnect.WithPropagateResponseHeader(),
		otelconnect.WithServerPeerAttributes(),
	}
}

// summary renders the telemetry of one call: its spans and its metrics,
// as comparable strings. Ports (of two different servers) are masked; with
// messages false, what depends on how many messages a failing stream got
// through (events, sizes, messages per call) is left out.
func summary(t *testing.T, tel *telemetry, messages bool) []string {
	t.Helper()
	mask := func(list []string) []string {
		for i, s := range list {
			if k, _, ok := strings.Cut(s, "="); ok && strings.HasSuffix(k, ".port") {
				list[i] = k + "=PORT"
			}
		}
		return list
	}
	var out []string
	for _, span := range tel.ended() {
		line := fmt.Sprintf("span %s %q attrs=%v status=%v/%q links=%d parent=%v",
			span.SpanKind(), span.Name(), mask(attrs(span.Attributes())), span.Status().Code, span.Status().Description,
			len(span.Links()), span.Parent().IsValid())
		if messages {
			line += fmt.Sprintf(" events=%v", spanEvents(span))
		}
		out = append(out, line)
	}
	for name, m := range tel.collect(t) {
		if !messages && (strings.Contains(name, ".size") || strings.Contains(name, "per_rpc")) {
			continue
		}
		switch data := m.Data.(type) {
		case metricdata.Histogram[float64]:
			for _, p := range data.DataPoints {
				out = append(out, fmt.Sprintf("metric %s %s %v count=%d", name, m.Unit, mask(setAttrs(p.Attributes)), p.Count))
			}
		case metricdata.Histogram[int64]:
			for _, p := range data.DataPoints {
				out = append(out, fmt.Sprintf("metric %s %s %v count=%d sum=%d", name, m.Unit, mask(setAttrs(p.Attributes)), p.Count, p.Sum))
			}
		case metricdata.Sum[int64]:
			for _, p := range data.DataPoints {
				out = append(out, fmt.Sprintf("metric %s %s %v value=%d", name, m.Unit, mask(setAttrs(p.Attributes)), p.Value))
			}
		default:
			out = append(out, fmt.Sprintf("metric %s %T", name, m.Data))
		}
	}
	sort.Strings(out)
	return out
}

func spanEvents(span sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range span.Events() {
		out = append(out, e.Name+fmt.Sprint(attrs(e.Attributes)))
	}
	return out
}

// TestV2Parity makes the same calls through connect-go v1 (NewInterceptor
// on a v1 client and handler) and v2 (NewClientInterceptor and
// NewServerInterceptor on a v2 client and server) with every kind of
// telemetry on, and checks that both record the same spans (names, kinds,
// attributes, status, events, links) and metrics (names, units,
// attributes, counts, message sizes), for every network, protocol and
// kind, succeeding and failing: the two adapters cannot drift apart.
func TestV2Parity(t *testing.T) {
	t.Parallel()
	tel1, tel2 := newTelemetry(t), newTelemetry(t)
	v1 := tel1.interceptor(t, parityOptions()...)
	server, client := tel2.v2Interceptors(t, parityOptions()...)
	var failing atomic.Bool
	v1Mux := testkit.NewMux(&testkit.PingServer{OnCall: func(context.Context, string) error {
		if failing.Load() {
			return connect.NewError(connect.CodeNotFound, errors.New("nope"))
		}
		return nil
	}}, connect.WithInterceptors(v1))
	v2Handler := (&v2PingServer{onCall: func(context.Context, string) error {
		if failing.Load() {
			return connectv2.NewError(connectv2.CodeNotFound, "nope")
		}
		return nil
	}}).handler(server)
	header := http.Header{testkit.HeaderEcho: []string{"same"}}
	for _, n := range v2Networks() {
		srv1, srv2 := testkit.NewServer(t, v1Mux, n), testkit.NewServer(t, v2Handler, n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			c1 := testkit.NewClient(srv1, p, connect.WithInterceptors(v1))
			c2 := testkitv2.NewClient(srv2, p, nil, client)
			for _, st := range testkit.StreamTypes() {
				if !testkit.SupportsStream(n, st) {
					continue
				}
				for _, fail := range []bool{false, true} {
					name := n.String() + "/" + p.String() + "/" + testkit.StreamTypeName(st)
					if fail {
						name += "/not_found"
					}
					t.Run(name, func(t *testing.T) {
						tel1.ended()
						tel1.collect(t)
						tel2.ended()
						tel2.collect(t)
						failing.Store(fail)
						_, _, err1 := testkit.Call(callCtx(t), c1, st, header)
						_, err2 := v2Call(callCtx(t), c2, st, header)
						failing.Store(false)
						if fail {
							assert.Equal(t, connect.CodeOf(err1), connect.CodeNotFound, err1)
							assert.Equal(t, connectv2.CodeOf(err2), connectv2.CodeNotFound, err2)
						} else {
							assert.NoError(t, err1)
							assert.NoError(t, err2)
						}
						// Server spans end after the response is written:
						// wait for both sides.
						tel1.waitSpans(t, 2)
						tel2.waitSpans(t, 2)
						got1, got2 := summary(t, tel1, !fail), summary(t, tel2, !fail)
						assert.True(t, len(got1) >= 6, "telemetry recorded", got1)
						assert.Equal(t, strings.Join(got2, "\n"), strings.Join(got1, "\n"))
					})
				}
			}
			// A failing unary call whose handler read its request compares
			// in full, messages included.
			t.Run(n.String()+"/"+p.String()+"/unary/fail_internal", func(t *testing.T) {
				tel1.ended()
				tel1.collect(t)
				tel2.ended()
				tel2.collect(t)
				_, err1 := c1.Fail(callCtx(t), connect.NewRequest(&testv1.FailRequest{Code: int32(connect.CodeInternal), Message: "boom"}))
				err2 := c2.CallUnary(callCtx(t), testkitv2.Spec(testv1connect.TestServiceFailProcedure),
					&testv1.FailRequest{Code: int32(connect.CodeInternal), Message: "boom"}, &testv1.FailResponse{})
				assert.Equal(t, connect.CodeOf(err1), connect.CodeInternal)
				assert.Equal(t, connectv2.CodeOf(err2), connectv2.CodeInternal)
				tel1.waitSpans(t, 2)
				tel2.waitSpans(t, 2)
				got1, got2 := summary(t, tel1, true), summary(t, tel2, true)
				assert.True(t, len(got1) >= 6, "telemetry recorded", got1)
				assert.Equal(t, strings.Join(got2, "\n"), strings.Join(got1, "\n"))
			})
		}
	}
}

// TestV2UnaryErrorResponseHeader checks that a failed unary call records
// no WithTraceResponseHeader attributes on v2, as on v1 (where the headers
// of a failed unary call travel with its error), though its handler set
// them; a failed v2 stream records them on both sides, as v1 streams do.
func TestV2UnaryErrorResponseHeader(t *testing.T) {
	t.Parallel()
	opts := []otelconnect.Option{otelconnect.WithTraceResponseHeader(testkit.HeaderEcho)}
	tel := newTelemetry(t)
	v1 := tel.interceptor(t, opts...)
	v1Mux := testkit.NewMux(&testkit.PingServer{OnCall: func(context.Context, string) error {
		err := connect.NewError(connect.CodeNotFound, errors.New("nope"))
		err.Meta().Set(testkit.HeaderEcho, "set")
		return err
	}}, connect.WithInterceptors(v1))
	server, client := tel.v2Interceptors(t, opts...)
	v2Handler := (&v2PingServer{onCall: func(ctx context.Context, _ string) error {
		info, _ := connectv2.CallInfoForServerContext(ctx)
		info.ResponseHeader().Set(testkit.HeaderEcho, "set")
		return connectv2.NewError(connectv2.CodeNotFound, "nope")
	}}).handler(server)
	srv1, srv2 := testkit.NewServer(t, v1Mux, testkit.H2C), testkit.NewServer(t, v2Handler, testkit.H2C)
	c1 := testkit.NewClient(srv1, testkit.GRPC, connect.WithInterceptors(v1))
	c2 := testkitv2.NewClient(srv2, testkit.GRPC, nil, client)
	for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeServer} {
		t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
			var captured [2]int
			for major, call := range []func() error{
				func() error { _, _, err := testkit.Call(callCtx(t), c1, st, nil); return err },
				func() error { _, err := v2Call(callCtx(t), c2, st, nil); return err },
			} {
				tel.ended()
				assert.Error(t, call())
				tel.waitSpans(t, 2)
				for _, span := range tel.ended() {
					if contains(attrs(span.Attributes()), `rpc.response.metadata.x-test-echo=["set"]`) {
						captured[major]++
					}
				}
			}
			if st == connect.StreamTypeUnary {
				assert.Equal(t, captured, [2]int{0, 0}, "v1, v2")
			} else {
				// A v1 stream handler would set the header on its
				// stream, not its error: only v2 is comparable here.
				assert.Equal(t, captured[1], 2, "a failed stream records its response header")
			}
			tel.collect(t)
		})
	}
}

// TestV2RPCSystemAndSignals checks WithRPCSystem, WithoutTracing and
// WithoutMetrics on the v2 interceptors.
func TestV2RPCSystemAndSignals(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, client := tel.v2Interceptors(t, otelconnect.WithRPCSystem(otelconnect.GRPCSystem))
	srv := testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.HTTP1)
	_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.ConnectJSON, nil, client), connect.StreamTypeServer, nil)
	assert.NoError(t, err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		assert.True(t, contains(attrs(span.Attributes()), "rpc.system.name=grpc"), attrs(span.Attributes()))
	}
	tel.collect(t)

	server, client = tel.v2Interceptors(t, otelconnect.WithoutTracing())
	srv = testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.HTTP1)
	_, err = v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.ConnectJSON, nil, client), connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 0)
	ms := tel.collect(t)
	assert.Equal(t, len(histFloat(t, ms, "rpc.server.call.duration")), 1)
	assert.Equal(t, len(histFloat(t, ms, "rpc.client.call.duration")), 1)

	server, client = tel.v2Interceptors(t, otelconnect.WithoutMetrics())
	srv = testkit.NewServer(t, (&v2PingServer{}).handler(server), testkit.HTTP1)
	_, err = v2Call(callCtx(t), testkitv2.NewClient(srv, testkit.ConnectJSON, nil, client), connect.StreamTypeClient, nil)
	assert.NoError(t, err)
	assert.Equal(t, len(tel.ended()), 2)
	assert.Equal(t, len(tel.collect(t)), 0)
}
