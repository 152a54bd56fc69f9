package otelconnect_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// TestHandlerPanic checks that a call whose handler panics is still
// recorded once, as UNKNOWN, for every RPC kind.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	svc := &testkit.PingServer{OnCall: func(context.Context, string) error { panic("boom") }}
	recoverPanic := connect.WithRecover(func(context.Context, connect.Spec, http.Header, any) error {
		return connect.NewError(connect.CodeInternal, nil)
	})
	mux := testkit.NewMux(svc, recoverPanic, connect.WithInterceptors(tel.interceptor(t, otelconnect.WithInFlightMetric())))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/connect_proto/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectProto), st, nil)
			assert.Error(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 1)
			assert.True(t, contains(attrs(spans[0].Attributes()), "rpc.response.status_code=UNKNOWN"))
			assert.Equal(t, spans[0].Status().Code, codes.Error)
			assert.Equal(t, len(histFloat(t, tel.collect(t), "rpc.server.call.duration")), 1)
		})
	}
}

// notModifiedServer answers Ping with Connect's "not modified".
type notModifiedServer struct{ testkit.PingServer }

func (*notModifiedServer) Ping(context.Context, *connect.Request[testv1.PingRequest]) (*connect.Response[testv1.PingResponse], error) {
	return nil, connect.NewNotModifiedError(http.Header{"Etag": []string{`"v1"`}})
}

// TestNotModified checks that Connect's "304 Not Modified" is no failure:
// status OK, http.response.status_code 304, no error.type, no error status.
func TestNotModified(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t)
	mux := testkit.NewMux(&notModifiedServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithHTTPGet(), connect.WithInterceptors(interceptor))
	_, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: 1}))
	assert.True(t, connect.IsNotModifiedError(err), err)
	spans := tel.ended()
	assert.Equal(t, len(spans), 2)
	for _, span := range spans {
		a := attrs(span.Attributes())
		assert.True(t, contains(a, "rpc.response.status_code=OK"), span.SpanKind().String())
		assert.True(t, contains(a, "http.response.status_code=304"), span.SpanKind().String())
		assert.True(t, !hasKeyPrefix(a, "error.type="), span.SpanKind().String())
		assert.Equal(t, span.Status().Code, codes.Unset)
	}
}

// TestOfficialAPI compiles calls written against connectrpc.com/otelconnect
// v0.12.0's connect-go v1 API: switching is an import-path change.
func TestOfficialAPI(t *testing.T) {
	t.Parallel()
	interceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelconnect.WithMeterProvider(noop.NewMeterProvider()),
		otelconnect.WithPropagator(propagator),
		otelconnect.WithoutTracing(),
		otelconnect.WithoutMetrics(),
		otelconnect.WithFilter(func(context.Context, connect.Spec) bool { return true }),
		otelconnect.WithAttributeFilter(otelconnect.AttributeFilter(func(connect.Spec, attribute.KeyValue) bool { return true })),
		otelconnect.WithAttributeFilter(func(connect.Spec, attribute.KeyValue) bool { return true }),
		otelconnect.WithServerPeerAttributes(),
		otelconnect.WithTrustRemote(),
		otelconnect.WithTraceRequestHeader("a", "b"),
		otelconnect.WithTraceResponseHeader("c"),
		otelconnect.WithPropagateResponseHeader(),
		otelconnect.WithRPCSystem(otelconnect.ConnectRPCSystem),
		otelconnect.WithRPCSystem(otelconnect.GRPCSystem),
		otelconnect.WithDurationHistogramOptions(metricBuckets(1)),
	)
	assert.NoError(t, err)
	var _ connect.Interceptor = interceptor
	var _ func(connect.UnaryFunc) connect.UnaryFunc = interceptor.WrapUnary
	l := &otelconnect.Labeler{}
	l.Add(attribute.Int("a", 1))
	ctx := otelconnect.ContextWithLabeler(context.Background(), l)
	got, ok := otelconnect.LabelerFromContext(ctx)
	assert.True(t, ok && got == l)
	assert.Equal(t, len(got.Get()), 1)
	_ = testv1connect.TestServicePingProcedure
}
