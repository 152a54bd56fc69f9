package otelconnect_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"

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
