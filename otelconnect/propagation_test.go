package otelconnect_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// parentFromHeader is a propagator that, like B3 set to inject a single
// header, extracts from a header it does not list in Fields: the
// interceptor must still give it every request.
type parentFromHeader struct{}

const parentHeader = "X-Test-Parent"

func (parentFromHeader) Inject(context.Context, propagation.TextMapCarrier) {}

func (parentFromHeader) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	id, err := trace.TraceIDFromHex(carrier.Get(parentHeader))
	if err != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: id, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
}

func (parentFromHeader) Fields() []string { return []string{"x-test-single"} }

// callWithParent calls the handler once in every protocol with header
// set, and returns the trace ids the handler spans were linked to.
func callWithParent(t *testing.T, tel *telemetry, mux http.Handler, header http.Header) []trace.TraceID {
	t.Helper()
	var linked []trace.TraceID
	srv := testkit.NewServer(t, mux, testkit.HTTP1)
	for _, protocol := range testkit.Protocols() {
		client := testkit.NewClient(srv, protocol)
		tel.ended()
		_, _, err := testkit.Call(context.Background(), client, connect.StreamTypeUnary, header)
		assert.NoError(t, err)
		spans := tel.ended()
		assert.Equal(t, len(spans), 1)
		if links := spans[0].Links(); len(links) == 1 {
			linked = append(linked, links[0].SpanContext.TraceID())
		} else {
			linked = append(linked, trace.TraceID{})
		}
	}
	return linked
}

// TestPropagatorOwnHeaders checks that a propagator reading a header it
// does not declare in Fields gets to extract it.
func TestPropagatorOwnHeaders(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t,
		otelconnect.WithPropagator(parentFromHeader{}))))
	want := trace.TraceID{0xab, 1}
	for _, id := range callWithParent(t, tel, mux, http.Header{parentHeader: {want.String()}}) {
		assert.Equal(t, id, want)
	}
}

// TestGlobalPropagatorSetLater checks that an interceptor built before the
// program sets the global propagator uses the one it sets. It runs in a
// process of its own: the global propagator can be set but not put back to
// the delegate that follows later settings.
func TestGlobalPropagatorSetLater(t *testing.T) {
	if !testkit.InFreshProcess(t) {
		return
	}
	tel := newTelemetry(t)
	interceptor, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(tel.tp), otelconnect.WithMeterProvider(tel.mp))
	assert.NoError(t, err)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	want := trace.TraceID{0xcd, 2}
	parent := "00-" + want.String() + "-0102030405060708-01"
	for _, id := range callWithParent(t, tel, mux, http.Header{"Traceparent": {parent}}) {
		assert.Equal(t, id, want)
	}
}
