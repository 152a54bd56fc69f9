package otelconnect_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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

// TestInFlight reads rpc.server.active_calls and rpc.client.active_calls
// from inside a handler (one call in flight for its method each) and after
// the call (none).
func TestInFlight(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	active := func(ms map[string]metricdata.Metrics, name, method string) int64 {
		m, ok := ms[name]
		if !ok {
			return -1
		}
		var total int64
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if v, _ := p.Attributes.Value("rpc.method"); v.AsString() == method {
				total += p.Value
			}
		}
		return total
	}
	var during []int64
	svc := &testkit.PingServer{OnCall: func(ctx context.Context, procedure string) error {
		// Delta temporality: what the call added since the last collection.
		ms := tel.collect(t)
		during = append(during,
			active(ms, "rpc.server.active_calls", procedure[1:]),
			active(ms, "rpc.client.active_calls", procedure[1:]))
		return nil
	}}
	interceptor := tel.interceptor(t, otelconnect.WithInFlightMetric())
	srv := testkit.NewServer(t, testkit.NewMux(svc, connect.WithInterceptors(interceptor)), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc/"+testkit.StreamTypeName(st), func(t *testing.T) {
			during = nil
			tel.collect(t)
			_, _, err := testkit.Call(context.Background(), client, st, nil)
			assert.NoError(t, err)
			assert.Equal(t, during, []int64{1, 1}, "server and client calls in flight")
			ms := tel.collect(t)
			method := testkit.Procedure(st)[1:]
			assert.Equal(t, active(ms, "rpc.server.active_calls", method), int64(-1), "server back to 0")
			assert.Equal(t, active(ms, "rpc.client.active_calls", method), int64(-1), "client back to 0")
		})
	}
}
