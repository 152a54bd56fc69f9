package otelconnect_test

import (
	"context"
	"net"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
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

// TestOldConventionsUnaryMessages checks that under the old conventions,
// alone or with the current ones, a unary call records its message sizes
// and counts as otelconnect v0.9 does: when it ends, with the attributes of
// its duration (its status included), and one message each way even when
// it fails, its response then 0 bytes. It checks handlers and clients of
// both connect-go majors, succeeding and failing, in every protocol.
func TestOldConventionsUnaryMessages(t *testing.T) {
	t.Parallel()
	ping := &testv1.PingRequest{Number: 42, Text: "ping"}
	fail := &testv1.FailRequest{Code: int32(connect.CodeNotFound)}
	pingSize := int64(proto.Size(ping)) // PingServer echoes it: the response has the same size
	failSize := int64(proto.Size(fail))
	for _, conv := range []otelconnect.Conventions{otelconnect.ConventionsOld, otelconnect.ConventionsDup} {
		tel := newTelemetry(t)
		opt := otelconnect.WithConventions(conv)
		v1 := tel.interceptor(t, opt)
		server, client := tel.v2Interceptors(t, opt)
		v1Mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(v1))
		v2Handler := (&v2PingServer{}).handler(server)
		for _, n := range v2Networks() {
			srv1, srv2 := testkit.NewServer(t, v1Mux, n), testkit.NewServer(t, v2Handler, n)
			for _, p := range testkit.Protocols() {
				if !p.Supports(n) {
					continue
				}
				c1 := testkit.NewClient(srv1, p, connect.WithInterceptors(v1))
				c2 := testkitv2.NewClient(srv2, p, nil, client)
				calls := []struct {
					name          string
					call          func(context.Context) error
					failed        bool
					request, resp int64
				}{
					{"v1", func(ctx context.Context) error {
						_, err := c1.Ping(ctx, connect.NewRequest(ping))
						return err
					}, false, pingSize, pingSize},
					{"v1/not_found", func(ctx context.Context) error {
						_, err := c1.Fail(ctx, connect.NewRequest(fail))
						return err
					}, true, failSize, 0},
					{"v2", func(ctx context.Context) error {
						return c2.CallUnary(ctx, testkitv2.Spec(testv1connect.TestServicePingProcedure), ping, &testv1.PingResponse{})
					}, false, pingSize, pingSize},
					{"v2/not_found", func(ctx context.Context) error {
						return c2.CallUnary(ctx, testkitv2.Spec(testv1connect.TestServiceFailProcedure), fail, &testv1.FailResponse{})
					}, true, failSize, 0},
				}
				for _, call := range calls {
					t.Run(conv.String()+"/"+n.String()+"/"+p.String()+"/"+call.name, func(t *testing.T) {
						tel.collect(t)
						err := call.call(callCtx(t))
						if call.failed {
							assert.Equal(t, codeOf(err), connect.CodeNotFound, err)
						} else {
							assert.NoError(t, err)
						}
						status := "rpc.connect_rpc.error_code=not_found"
						switch {
						case systemName(p) == "grpc" && call.failed:
							status = "rpc.grpc.status_code=5"
						case systemName(p) == "grpc":
							status = "rpc.grpc.status_code=0"
						case !call.failed:
							status = "" // Connect has no status attribute on success
						}
						var names []string
						for _, side := range []string{"server", "client"} {
							for _, name := range []string{"duration", "request.size", "response.size", "requests_per_rpc", "responses_per_rpc"} {
								names = append(names, "rpc."+side+"."+name)
							}
						}
						ms := collectAll(t, tel, names...)
						for _, side := range []string{"server", "client"} {
							d := histFloat(t, ms, "rpc."+side+".duration")
							assert.Equal(t, len(d), 1, side)
							want := setAttrs(d[0].Attributes)
							assert.True(t, status == "" || contains(want, status), side, want)
							for name, sum := range map[string]int64{
								"request.size":      call.request,
								"response.size":     call.resp,
								"requests_per_rpc":  1,
								"responses_per_rpc": 1,
							} {
								h := histInt(t, ms, "rpc."+side+"."+name)
								assert.Equal(t, len(h), 1, side, name)
								assert.Equal(t, h[0].Count, uint64(1), side, name)
								assert.Equal(t, h[0].Sum, sum, side, name)
								assert.Equal(t, setAttrs(h[0].Attributes), want, side, name)
							}
						}
					})
				}
			}
		}
	}
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
