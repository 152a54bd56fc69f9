package otelconnect_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

// cumulative is a meter provider read with cumulative temporality, as
// Prometheus reads it: an up-down counter reports its current value.
type cumulative struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newCumulative(t *testing.T) *cumulative {
	c := &cumulative{reader: sdkmetric.NewManualReader()}
	c.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(c.reader))
	t.Cleanup(func() { _ = c.mp.Shutdown(context.Background()) })
	return c
}

// active returns the in-flight value of metric name for method, or -1 when
// there is no such series.
func (c *cumulative) active(t *testing.T, name, method string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := c.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	value := int64(-1)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || sum.IsMonotonic {
				t.Fatalf("%s is %T (monotonic %v), want a non-monotonic int64 sum", name, m.Data, ok && sum.IsMonotonic)
			}
			for _, p := range sum.DataPoints {
				if v, _ := p.Attributes.Value("rpc.method"); v.AsString() == method {
					value = max(value, 0) + p.Value
				}
			}
		}
	}
	return value
}

func (c *cumulative) interceptor(t *testing.T, opts ...otelconnect.Option) *otelconnect.Interceptor {
	t.Helper()
	i, err := otelconnect.NewInterceptor(append([]otelconnect.Option{
		otelconnect.WithMeterProvider(c.mp),
		otelconnect.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelconnect.WithPropagator(propagator),
		otelconnect.WithInFlightMetric(),
	}, opts...)...)
	assert.NoError(t, err)
	return i
}

// TestInFlight holds three calls of each kind inside the handler, reads
// rpc.server.active_calls and rpc.client.active_calls (3 each for the
// method), releases them and reads 0, under the current and the old
// conventions.
func TestInFlight(t *testing.T) {
	t.Parallel()
	for _, conv := range []otelconnect.Conventions{otelconnect.ConventionsCurrent, otelconnect.ConventionsOld} {
		t.Run(conv.String(), func(t *testing.T) {
			t.Parallel()
			c := newCumulative(t)
			var (
				mu      sync.Mutex
				release chan struct{}
				started sync.WaitGroup
			)
			svc := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
				mu.Lock()
				gate := release
				mu.Unlock()
				started.Done()
				select {
				case <-gate:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
			interceptor := c.interceptor(t, otelconnect.WithConventions(conv))
			srv := testkit.NewServer(t, testkit.NewMux(svc, connect.WithInterceptors(interceptor)), testkit.H2C)
			client := testkit.NewClient(srv, testkit.GRPC, connect.WithInterceptors(interceptor))
			method := func(st connect.StreamType) string { return testkit.Procedure(st)[1:] }
			if conv == otelconnect.ConventionsOld {
				method = func(st connect.StreamType) string { // rpc.method is the short name there
					p := testkit.Procedure(st)
					return p[len("/connectware.test.v1.TestService/"):]
				}
			}
			const calls = 3
			for _, st := range testkit.StreamTypes() {
				t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
					mu.Lock()
					release = make(chan struct{})
					mu.Unlock()
					started.Add(calls)
					errs := make(chan error, calls)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					for range calls {
						go func() {
							_, _, err := testkit.Call(ctx, client, st, nil)
							errs <- err
						}()
					}
					started.Wait()
					assert.Equal(t, c.active(t, "rpc.server.active_calls", method(st)), int64(calls), "server calls in flight")
					assert.Equal(t, c.active(t, "rpc.client.active_calls", method(st)), int64(calls), "client calls in flight")
					mu.Lock()
					close(release)
					mu.Unlock()
					for range calls {
						assert.NoError(t, <-errs)
					}
					assert.Equal(t, c.active(t, "rpc.server.active_calls", method(st)), int64(0), "server back to 0")
					assert.Equal(t, c.active(t, "rpc.client.active_calls", method(st)), int64(0), "client back to 0")
				})
			}
		})
	}
}

// countingProvider counts the callback registrations its meters give out
// and the ones undone.
type countingProvider struct {
	metric.MeterProvider
	registered, unregistered atomic.Int32
}

func (p *countingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &countingMeter{Meter: p.MeterProvider.Meter(name, opts...), p: p}
}

type countingMeter struct {
	metric.Meter
	p *countingProvider
}

func (m *countingMeter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	r, err := m.Meter.RegisterCallback(f, instruments...)
	if err != nil {
		return nil, err
	}
	m.p.registered.Add(1)
	return &countingRegistration{Registration: r, p: m.p}, nil
}

type countingRegistration struct {
	metric.Registration
	p *countingProvider
}

func (r *countingRegistration) Unregister() error {
	r.p.unregistered.Add(1)
	return r.Registration.Unregister()
}

// TestInFlightUnregistered checks that an interceptor its program drops
// stops being observed once it is garbage collected, and that its
// callbacks are unregistered: the meter provider does not keep it, its
// series or its callbacks forever.
func TestInFlightUnregistered(t *testing.T) {
	t.Parallel()
	c := newCumulative(t)
	counting := &countingProvider{MeterProvider: c.mp}
	const method = "connectware.test.v1.TestService/Ping"
	func() {
		mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(c.interceptor(t, otelconnect.WithMeterProvider(counting))))
		body, err := proto.Marshal(&testv1.PingRequest{Number: 1})
		assert.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, testv1connect.TestServicePingProcedure, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/proto")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		assert.Equal(t, w.Code, http.StatusOK)
	}()
	assert.Equal(t, c.active(t, "rpc.server.active_calls", method), int64(0), "observed while the interceptor lives")
	deadline := time.Now().Add(10 * time.Second)
	assert.Equal(t, counting.registered.Load(), int32(2), "a callback per side")
	for c.active(t, "rpc.server.active_calls", method) != -1 || counting.unregistered.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the dropped interceptor: series %d, %d of 2 callbacks unregistered",
				c.active(t, "rpc.server.active_calls", method), counting.unregistered.Load())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
