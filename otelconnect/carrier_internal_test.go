package otelconnect

import (
	"context"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/connectware/connectware/internal/testkit"
)

// TestIdentifyPropagator checks which propagators get the W3C fast paths:
// TraceContext and Baggage alone or composed (nested too), and nothing
// else.
func TestIdentifyPropagator(t *testing.T) {
	tc, bg := propagation.TraceContext{}, propagation.Baggage{}
	compose := propagation.NewCompositeTextMapPropagator
	for _, c := range []struct {
		name       string
		p          propagation.TextMapPropagator
		known      bool
		tc, bg     bool
		extractKey []string
	}{
		{"tracecontext", tc, true, true, false, []string{"Traceparent", "Tracestate"}},
		{"baggage", bg, true, false, true, []string{"Baggage"}},
		{"composite", compose(tc, bg), true, true, true, []string{"Traceparent", "Tracestate", "Baggage"}},
		{"composite reversed", compose(bg, tc), true, true, true, []string{"Traceparent", "Tracestate", "Baggage"}},
		{"nested", compose(compose(tc), bg), true, true, true, []string{"Traceparent", "Tracestate", "Baggage"}},
		{"empty composite", compose(), true, false, false, nil},
		{"other member", compose(tc, otherPropagator{}), false, false, false, nil},
		{"other", otherPropagator{}, false, false, false, nil},
	} {
		w := identifyPropagator(c.p)
		if w.known != c.known || w.traceContext != c.tc || w.baggage != c.bg || !reflect.DeepEqual(w.extractKeys, c.extractKey) {
			t.Errorf("%s: got %+v", c.name, w)
		}
	}
}

// TestIdentifyGlobalPropagator checks that the global delegate, which
// follows whatever propagator the program sets later, gets no fast path. It
// runs in a process of its own: once a program sets the global propagator,
// the delegate is gone for good.
func TestIdentifyGlobalPropagator(t *testing.T) {
	if !testkit.InFreshProcess(t) {
		return
	}
	if w := identifyPropagator(otel.GetTextMapPropagator()); w.known || w.traceContext || w.baggage || w.extractKeys != nil {
		t.Errorf("global: got %+v", w)
	}
}

type otherPropagator struct{}

func (otherPropagator) Inject(context.Context, propagation.TextMapCarrier) {}
func (otherPropagator) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}
func (otherPropagator) Fields() []string { return []string{"traceparent"} }

// TestInjectMatchesPropagator checks that the interceptor's own injection
// writes exactly the headers propagation.TraceContext and
// propagation.Baggage write, for random span contexts (every flag byte,
// with and without trace state, valid and not) and baggage.
func TestInjectMatchesPropagator(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	states := []string{"", "vendor=value", "a=1,b=2,congo=t61rcWkgMzE"}
	members := []string{"", "user=alice", "user=alice,tenant=acme;prop=1"}
	for _, p := range []propagation.TextMapPropagator{
		propagation.TraceContext{},
		propagation.Baggage{},
		propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	} {
		w := identifyPropagator(p)
		if !w.known {
			t.Fatalf("%T not known", p)
		}
		for i := range 2000 {
			var cfg trace.SpanContextConfig
			if i%10 != 0 { // every tenth invalid
				for j := range cfg.TraceID {
					cfg.TraceID[j] = byte(rng.IntN(256))
				}
				for j := range cfg.SpanID {
					cfg.SpanID[j] = byte(rng.IntN(256))
				}
			}
			cfg.TraceFlags = trace.TraceFlags(i % 256)
			if s := states[i%len(states)]; s != "" {
				ts, err := trace.ParseTraceState(s)
				if err != nil {
					t.Fatal(err)
				}
				cfg.TraceState = ts
			}
			sc := trace.NewSpanContext(cfg)
			ctx := trace.ContextWithSpanContext(context.Background(), sc)
			if m := members[(i/3)%len(members)]; m != "" {
				b, err := baggage.Parse(m)
				if err != nil {
					t.Fatal(err)
				}
				ctx = baggage.ContextWithBaggage(ctx, b)
			}
			want := http.Header{}
			p.Inject(ctx, propagation.HeaderCarrier(want))
			got := http.Header{}
			w.inject(ctx, sc, headerCarrier(got))
			// Baggage members come out in map order.
			for _, h := range []http.Header{got, want} {
				if v := h.Get("Baggage"); v != "" {
					parts := strings.Split(v, ",")
					sort.Strings(parts)
					h.Set("Baggage", strings.Join(parts, ","))
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%T, %v: got %v, want %v", p, sc, got, want)
			}
		}
	}
}
