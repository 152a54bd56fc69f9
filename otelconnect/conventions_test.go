package otelconnect_test

import (
	"context"
	"net"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

const service = "connectware.test.v1.TestService"

// TestOldConventions checks the conventions of otelconnect up to v0.9,
// handler and client side, in every protocol over h2c.
func TestOldConventions(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t, otelconnect.WithConventions(otelconnect.ConventionsOld))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	host, port, err := net.SplitHostPort(srv.Addr.String())
	assert.NoError(t, err)
	for _, p := range testkit.Protocols() {
		client := testkit.NewClient(srv, p, connect.WithInterceptors(interceptor))
		system := "connect_rpc"
		if p == testkit.GRPC || p == testkit.GRPCWeb {
			system = "grpc"
		}
		for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeBidi} {
			t.Run("h2c/"+p.String()+"/"+testkit.StreamTypeName(st), func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				_, _, err := testkit.Call(context.Background(), client, st, nil)
				assert.NoError(t, err)
				method := "Ping"
				messages := int64(1)
				if st == connect.StreamTypeBidi {
					method, messages = "CumSum", 3
				}
				want := []string{"rpc.method=" + method, "rpc.service=" + service, "rpc.system=" + system}
				if system == "grpc" {
					want = append(want, "rpc.grpc.status_code=0")
				}
				ms := tel.collect(t)
				_, hasNew := ms["rpc.server.call.duration"]
				assert.True(t, !hasNew, "no current metrics")
				for _, side := range []string{"server", "client"} {
					wantSide := want
					if side == "client" {
						wantSide = append([]string{"net.peer.name=" + host, "net.peer.port=" + port}, want...)
					}
					d := histFloat(t, ms, "rpc."+side+".duration")
					assert.Equal(t, len(d), 1, side)
					assert.Equal(t, setAttrs(d[0].Attributes), sortedCopy(wantSide), side)
					assert.Equal(t, ms["rpc."+side+".duration"].Unit, "ms")
					for _, name := range []string{"requests_per_rpc", "responses_per_rpc"} {
						h := histInt(t, ms, "rpc."+side+"."+name)
						assert.Equal(t, len(h), 1, name)
						assert.Equal(t, h[0].Sum, messages, side+" "+name)
					}
					for _, name := range []string{"request.size", "response.size"} {
						h := histInt(t, ms, "rpc."+side+"."+name)
						assert.Equal(t, len(h), 1, name)
						assert.Equal(t, h[0].Count, uint64(messages), side+" "+name)
						assert.True(t, h[0].Sum > 0, side+" "+name)
						assert.Equal(t, ms["rpc."+side+"."+name].Unit, "By")
					}
				}
				for _, span := range tel.ended() {
					a := attrs(span.Attributes())
					for _, w := range want {
						assert.True(t, contains(a, w), w, span.SpanKind().String())
					}
					assert.True(t, !hasKeyPrefix(a, "rpc.system.name"), "no current attributes")
				}
			})
		}
	}
	t.Run("h2c/connect_proto/fail", func(t *testing.T) {
		tel.ended()
		tel.collect(t)
		client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(interceptor))
		_, err := client.Fail(context.Background(), connect.NewRequest(&testv1.FailRequest{Code: int32(connect.CodeNotFound)}))
		assert.Code(t, err, connect.CodeNotFound)
		d := histFloat(t, tel.collect(t), "rpc.server.duration")
		assert.True(t, contains(setAttrs(d[0].Attributes), "rpc.connect_rpc.error_code=not_found"))
	})
	t.Run("h2c/grpc/fail", func(t *testing.T) {
		tel.collect(t)
		client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
		_, err := client.Fail(context.Background(), connect.NewRequest(&testv1.FailRequest{Code: int32(connect.CodeNotFound)}))
		assert.Code(t, err, connect.CodeNotFound)
		d := histFloat(t, tel.collect(t), "rpc.server.duration")
		assert.True(t, contains(setAttrs(d[0].Attributes), "rpc.grpc.status_code=5"))
	})
}

// TestDupConventions checks that ConventionsDup emits both sets of metrics
// and spans carrying both sets of attributes.
func TestDupConventions(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t, otelconnect.WithConventions(otelconnect.ConventionsDup))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
	_, _, err := testkit.Call(context.Background(), client, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	ms := tel.collect(t)
	for _, name := range []string{"rpc.server.call.duration", "rpc.server.duration", "rpc.client.call.duration", "rpc.client.duration"} {
		assert.Equal(t, len(histFloat(t, ms, name)), 1, name)
	}
	assert.Equal(t, setAttrs(histFloat(t, ms, "rpc.server.call.duration")[0].Attributes),
		[]string{"rpc.method=" + service + "/Ping", "rpc.response.status_code=OK", "rpc.system.name=grpc"})
	assert.Equal(t, setAttrs(histFloat(t, ms, "rpc.server.duration")[0].Attributes),
		[]string{"rpc.grpc.status_code=0", "rpc.method=Ping", "rpc.service=" + service, "rpc.system=grpc"})
	for _, span := range tel.ended() {
		a := attrs(span.Attributes())
		for _, w := range []string{"rpc.method=" + service + "/Ping", "rpc.system.name=grpc", "rpc.system=grpc", "rpc.service=" + service, "rpc.grpc.status_code=0", "rpc.response.status_code=OK"} {
			assert.True(t, contains(a, w), w)
		}
	}
}

// TestConventionsFromEnv checks OTEL_SEMCONV_STABILITY_OPT_IN and that
// WithConventions overrides it. It sets the environment, so it is not
// parallel.
func TestConventionsFromEnv(t *testing.T) {
	tests := []struct {
		env     string
		option  []otelconnect.Option
		current bool
		old     bool
	}{
		{env: "", current: true},
		{env: "rpc", current: true},
		{env: "http,rpc/old", old: true},
		{env: "rpc/old, rpc/dup", current: true, old: true},
		{env: "rpc/dup", current: true, old: true},
		{env: "rpc/old", option: []otelconnect.Option{otelconnect.WithConventions(otelconnect.ConventionsCurrent)}, current: true},
		{env: "", option: []otelconnect.Option{otelconnect.WithConventions(otelconnect.ConventionsDup)}, current: true, old: true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_STABILITY_OPT_IN", tt.env)
			tel := newTelemetry(t)
			mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, tt.option...)))
			srv := testkit.NewServer(t, mux, testkit.HTTP1)
			_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectProto), connect.StreamTypeUnary, nil)
			assert.NoError(t, err)
			ms := tel.collect(t)
			_, current := ms["rpc.server.call.duration"]
			_, old := ms["rpc.server.duration"]
			assert.Equal(t, current, tt.current, "current")
			assert.Equal(t, old, tt.old, "old")
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
