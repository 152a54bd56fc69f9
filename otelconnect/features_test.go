package otelconnect_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
	"github.com/connectware/connectware/otelconnect/filters"
)

// TestFilter checks that filtered-out calls record nothing, on handlers
// and clients, and still work.
func TestFilter(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t, otelconnect.WithFilter(filters.Not(filters.Any(
		filters.Procedure(testv1connect.TestServicePingProcedure),
		filters.ProcedurePrefix("/connectware.test.v1.TestService/Count"),
	))))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, _, err := testkit.Call(context.Background(), client, st, nil)
			assert.NoError(t, err)
			recorded := st == connect.StreamTypeClient || st == connect.StreamTypeBidi
			want := 0
			if recorded {
				want = 2
			}
			assert.Equal(t, len(tel.ended()), want, "spans")
			ms := tel.collect(t)
			_, ok := ms["rpc.server.call.duration"]
			assert.Equal(t, ok, recorded, "server metric")
			_, ok = ms["rpc.client.call.duration"]
			assert.Equal(t, ok, recorded, "client metric")
		})
	}
}

// TestPerSignalAttributes keeps server.port on spans but off metrics, and
// rpc.method on metrics but off spans.
func TestPerSignalAttributes(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t,
		otelconnect.WithMetricAttributeFilter(func(_ connect.Spec, kv attribute.KeyValue) bool {
			return kv.Key != "server.port"
		}),
		otelconnect.WithSpanAttributeFilter(func(_ connect.Spec, kv attribute.KeyValue) bool {
			return kv.Key != "rpc.method"
		}),
	)
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.HTTP1)
	client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(interceptor))
	for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeServer} {
		t.Run("http1/connect_proto/"+testkit.StreamTypeName(st), func(t *testing.T) {
			tel.ended()
			tel.collect(t)
			_, _, err := testkit.Call(context.Background(), client, st, nil)
			assert.NoError(t, err)
			span := attrs(tel.ended()[0].Attributes())
			assert.True(t, hasKeyPrefix(span, "server.port="), "span keeps server.port")
			assert.True(t, !hasKeyPrefix(span, "rpc.method="), "span drops rpc.method")
			metric := setAttrs(histFloat(t, tel.collect(t), "rpc.client.call.duration")[0].Attributes)
			assert.True(t, !hasKeyPrefix(metric, "server.port="), "metric drops server.port")
			assert.True(t, hasKeyPrefix(metric, "rpc.method="), "metric keeps rpc.method")
		})
	}
	t.Run("both", func(t *testing.T) {
		tel2 := newTelemetry(t)
		i := tel2.interceptor(t, otelconnect.WithAttributeFilter(func(_ connect.Spec, kv attribute.KeyValue) bool {
			return kv.Key != "server.address"
		}))
		c := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(i))
		_, _, err := testkit.Call(context.Background(), c, connect.StreamTypeUnary, nil)
		assert.NoError(t, err)
		assert.True(t, !hasKeyPrefix(attrs(tel2.ended()[0].Attributes()), "server.address="))
		assert.True(t, !hasKeyPrefix(setAttrs(histFloat(t, tel2.collect(t), "rpc.client.call.duration")[0].Attributes), "server.address="))
	})
}

// samplerSeen is a sampler that samples everything and records the
// attributes each span had when it started, by span kind.
type samplerSeen struct {
	mu   sync.Mutex
	seen map[trace.SpanKind][]string
}

func (s *samplerSeen) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[p.Kind] = attrs(p.Attributes)
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (s *samplerSeen) Description() string { return "samplerSeen" }

// TestSpanStartAttributes: with WithSpanStartAttributes, samplers see the
// request attributes (rpc.method and rpc.system.name; server.address and
// server.port on clients) when a span starts; without it they see none.
// Either way the ended spans carry the same attributes, client streams
// (which start before their server is known) included, in both
// conventions.
func TestSpanStartAttributes(t *testing.T) {
	t.Parallel()
	for _, conv := range []otelconnect.Conventions{otelconnect.ConventionsCurrent, otelconnect.ConventionsOld, otelconnect.ConventionsDup} {
		ended := map[bool]map[string][]string{}
		for _, atStart := range []bool{false, true} {
			sampler := &samplerSeen{seen: map[trace.SpanKind][]string{}}
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(spans))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			opts := []otelconnect.Option{otelconnect.WithTracerProvider(tp), otelconnect.WithoutMetrics(), otelconnect.WithConventions(conv)}
			if atStart {
				opts = append(opts, otelconnect.WithSpanStartAttributes())
			}
			interceptor, err := otelconnect.NewInterceptor(opts...)
			assert.NoError(t, err)
			srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor)), testkit.H2C)
			client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
			ended[atStart] = map[string][]string{}
			for _, st := range testkit.StreamTypes() {
				name := fmt.Sprintf("conv%d/start=%v/%s", conv, atStart, testkit.StreamTypeName(st))
				spans.Reset()
				_, _, err := testkit.Call(context.Background(), client, st, nil)
				assert.NoError(t, err, name)
				for _, s := range spans.Ended() {
					var kept []string // each round has its own server, on its own port
					for _, a := range attrs(s.Attributes()) {
						if !strings.HasPrefix(a, "server.port=") && !strings.HasPrefix(a, "net.peer.port=") {
							kept = append(kept, a)
						}
					}
					ended[atStart][testkit.StreamTypeName(st)+"/"+s.SpanKind().String()] = kept
				}
				sampler.mu.Lock()
				server, clientSeen := sampler.seen[trace.SpanKindServer], sampler.seen[trace.SpanKindClient]
				sampler.mu.Unlock()
				system := "rpc.system.name="
				if conv == otelconnect.ConventionsOld {
					system = "rpc.system="
				}
				assert.Equal(t, hasKeyPrefix(server, "rpc.method="), atStart, name, "server span start", server)
				assert.Equal(t, hasKeyPrefix(server, system), atStart, name, "server span start", server)
				wantClient := atStart && st == connect.StreamTypeUnary // client streams start before they open
				assert.Equal(t, hasKeyPrefix(clientSeen, "rpc.method="), wantClient, name, "client span start", clientSeen)
				assert.Equal(t, hasKeyPrefix(clientSeen, system), wantClient, name, "client span start", clientSeen)
			}
		}
		assert.Equal(t, len(ended[true]), 8, "spans of four kinds on both sides")
		for key, want := range ended[false] {
			assert.Equal(t, strings.Join(ended[true][key], " "), strings.Join(want, " "), "ended span", key)
		}
	}
}
