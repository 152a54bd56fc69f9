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
	"github.com/connectware/connectware/internal/testkit/testkitv2"
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

// withParent serves h with parent in each request's context, as a
// middleware that extracts the trace context (for logs, say) or an outer
// instrumentation's span would put it there.
func withParent(h http.Handler, parent func(context.Context) context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(parent(r.Context())))
	})
}

// TestRemoteParentInContext checks that a remote span context a middleware
// put in the handler's context is not trusted by default (a new root linked
// to it, as when the interceptor extracts it itself) and is the parent with
// WithTrustRemote, while a local span (an outer instrumentation's) is
// always the parent; on v1 and v2, for every protocol and RPC kind.
func TestRemoteParentInContext(t *testing.T) {
	t.Parallel()
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xab, 9}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	for _, tc := range []struct {
		name  string
		local bool
		trust bool
	}{
		{"remote/untrusted", false, false},
		{"remote/trusted", false, true},
		{"local/untrusted", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			parentSC := remote
			parent := func(ctx context.Context) context.Context {
				return trace.ContextWithRemoteSpanContext(ctx, remote)
			}
			if tc.local {
				ctx, span := tel.tp.Tracer("outer").Start(context.Background(), "outer")
				span.End()
				parentSC = span.SpanContext()
				parent = func(inner context.Context) context.Context {
					return trace.ContextWithSpan(inner, trace.SpanFromContext(ctx))
				}
			}
			var opts []otelconnect.Option
			if tc.trust {
				opts = append(opts, otelconnect.WithTrustRemote())
			}
			check := func(t *testing.T, err error) {
				t.Helper()
				assert.NoError(t, err)
				tel.waitSpans(t, 1)
				spans := tel.ended()
				assert.Equal(t, len(spans), 1)
				span := spans[0]
				if tc.local || tc.trust {
					assert.Equal(t, span.Parent().SpanID(), parentSC.SpanID(), "parent")
					assert.Equal(t, span.SpanContext().TraceID(), parentSC.TraceID(), "trace")
					assert.Equal(t, len(span.Links()), 0, "links")
					return
				}
				assert.True(t, !span.Parent().IsValid(), "new root")
				assert.True(t, span.SpanContext().TraceID() != parentSC.TraceID(), "new trace")
				assert.Equal(t, len(span.Links()), 1, "links")
				assert.Equal(t, span.Links()[0].SpanContext.SpanID(), parentSC.SpanID(), "link")
			}
			v1 := testkit.NewServer(t, withParent(testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, opts...))), parent), testkit.H2C)
			server, _ := tel.v2Interceptors(t, opts...)
			v2 := testkit.NewServer(t, withParent((&v2PingServer{}).handler(server), parent), testkit.H2C)
			for _, p := range testkit.Protocols() {
				for _, st := range testkit.StreamTypes() {
					t.Run(p.String()+"/"+testkit.StreamTypeName(st), func(t *testing.T) {
						tel.ended()
						_, _, err := testkit.Call(callCtx(t), testkit.NewClient(v1, p), st, nil)
						check(t, err)
						_, err = v2Call(callCtx(t), testkitv2.NewClient(v2, p, nil), st, nil)
						check(t, err)
					})
				}
			}
		})
	}
}

// TestRemoteParentInContextOverHeaders checks that a remote span context a
// middleware put in the handler's context stays the one the server span
// is linked to (or, with WithTrustRemote, the child of) when the request's
// propagation headers name another: the interceptor extracts only when the
// context holds no span context, as it did before it distrusted the
// context's.
func TestRemoteParentInContextOverHeaders(t *testing.T) {
	t.Parallel()
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xab, 10}, SpanID: trace.SpanID{10}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	header := http.Header{"Traceparent": {"00-" + trace.TraceID{0xcd, 11}.String() + "-0b0b0b0b0b0b0b0b-01"}}
	for _, trust := range []bool{false, true} {
		tel := newTelemetry(t)
		var opts []otelconnect.Option
		if trust {
			opts = append(opts, otelconnect.WithTrustRemote())
		}
		mux := withParent(testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, opts...))),
			func(ctx context.Context) context.Context { return trace.ContextWithRemoteSpanContext(ctx, remote) })
		srv := testkit.NewServer(t, mux, testkit.H2C)
		for _, p := range testkit.Protocols() {
			tel.ended()
			_, _, err := testkit.Call(callCtx(t), testkit.NewClient(srv, p), connect.StreamTypeUnary, header)
			assert.NoError(t, err)
			spans := tel.ended()
			assert.Equal(t, len(spans), 1)
			if trust {
				assert.Equal(t, spans[0].Parent().SpanID(), remote.SpanID(), "parent")
				assert.Equal(t, spans[0].SpanContext().TraceID(), remote.TraceID(), "trace")
				continue
			}
			assert.Equal(t, len(spans[0].Links()), 1, "links")
			assert.Equal(t, spans[0].Links()[0].SpanContext.TraceID(), remote.TraceID(), "link")
		}
	}
}
