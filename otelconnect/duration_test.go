package otelconnect_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// TestDuration checks the recorded call duration, on handlers and clients,
// whichever clock times it: a recording SDK span's own times, or the
// interceptor's clock (no tracing, or a span the sampler dropped). The
// handler sleeps 30 ms, so every duration is at least that, and far less
// than the 10 s a broken clock subtraction would make it.
func TestDuration(t *testing.T) {
	t.Parallel()
	const nap = 30 * time.Millisecond
	for _, c := range []struct {
		name    string
		sampler sdktrace.Sampler // nil: no tracing
	}{
		{"span_times", sdktrace.AlwaysSample()},
		{"dropped_span", sdktrace.NeverSample()},
		{"no_tracing", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			opts := []otelconnect.Option{}
			if c.sampler != nil {
				opts = append(opts, otelconnect.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(c.sampler))))
			} else {
				opts = append(opts, otelconnect.WithTracerProvider(tracenoop.NewTracerProvider()))
			}
			interceptor := tel.interceptor(t, opts...)
			server := &testkit.PingServer{OnCall: func(context.Context, string) error {
				time.Sleep(nap)
				return nil
			}}
			mux := testkit.NewMux(server, connect.WithInterceptors(interceptor))
			srv := testkit.NewServer(t, mux, testkit.H2C)
			client := testkit.NewClient(srv, testkit.ConnectJSON, connect.WithInterceptors(interceptor))
			for _, st := range testkit.StreamTypes() {
				tel.collect(t)
				_, _, err := testkit.Call(context.Background(), client, st, nil)
				assert.NoError(t, err)
				ms := tel.collect(t)
				for _, name := range []string{"rpc.server.call.duration", "rpc.client.call.duration"} {
					points := histFloat(t, ms, name)
					assert.Equal(t, len(points), 1, name)
					p := points[0]
					assert.Equal(t, p.Count, uint64(1), name)
					if p.Sum < nap.Seconds() || p.Sum > 10 {
						t.Errorf("%s %s: %v s, want at least %v", testkit.StreamTypeName(st), name, p.Sum, nap.Seconds())
					}
				}
			}
		})
	}
}
