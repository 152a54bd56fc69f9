package otelconnect_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// TestOtelgrpcInterop calls our handler from a grpc-go client instrumented
// with otelgrpc, a real third-party peer: its trace context reaches the
// handler (a parent with WithTrustRemote, a link otherwise), and the
// handler's comes back in the response headers.
func TestOtelgrpcInterop(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{true, false} {
		name := "trusted"
		opts := []otelconnect.Option{otelconnect.WithPropagateResponseHeader()}
		if trust {
			opts = append(opts, otelconnect.WithTrustRemote())
		} else {
			name = "untrusted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(tel.interceptor(t, opts...)))
			srv := testkit.NewServer(t, mux, testkit.H2C)
			conn := testkit.GRPCConn(t, srv, grpc.WithStatsHandler(otelgrpc.NewClientHandler(
				otelgrpc.WithTracerProvider(tel.tp),
				otelgrpc.WithPropagators(propagator),
			)))
			for _, st := range testkit.StreamTypes() {
				t.Run("h2c/grpc-go/"+testkit.StreamTypeName(st), func(t *testing.T) {
					tel.ended()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					var header metadata.MD
					assert.NoError(t, testkit.GRPCCall(ctx, conn, st, grpc.Header(&header)))
					// otelgrpc ends its span from a stats callback, maybe
					// after the call returns.
					tel.waitSpans(t, 2)
					spans := tel.ended()
					assert.Equal(t, len(spans), 2)
					server, client := spans[0], spans[1]
					if server.SpanKind() != trace.SpanKindServer {
						server, client = client, server
					}
					assert.Equal(t, client.InstrumentationScope().Name, "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc")
					assert.Equal(t, server.Name(), strings.TrimPrefix(testkit.Procedure(st), "/"))
					if trust {
						assert.Equal(t, server.Parent().SpanID(), client.SpanContext().SpanID())
						assert.Equal(t, server.SpanContext().TraceID(), client.SpanContext().TraceID())
					} else {
						assert.Equal(t, len(server.Links()), 1)
						assert.Equal(t, server.Links()[0].SpanContext.SpanID(), client.SpanContext().SpanID())
					}
					back := header.Get("traceparent")
					assert.Equal(t, len(back), 1, "traceparent in the response")
					assert.Contains(t, back[0], server.SpanContext().SpanID().String())
				})
			}
		})
	}
}
