package otelconnect_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/connectware/connectware/otelconnect"
)

// telemetry is an SDK tracer and meter provider whose output tests read:
// ended spans from a SpanRecorder, metrics from a ManualReader with delta
// temporality (each collection holds what was recorded since the last).
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t testing.TB) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder()}
	tel.reader = sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
		return metricdata.DeltaTemporality
	}))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// interceptor returns an interceptor recording to tel, with opts.
func (tel *telemetry) interceptor(t testing.TB, opts ...otelconnect.Option) *otelconnect.Interceptor {
	t.Helper()
	all := append([]otelconnect.Option{
		otelconnect.WithTracerProvider(tel.tp),
		otelconnect.WithMeterProvider(tel.mp),
		otelconnect.WithPropagator(propagator),
	}, opts...)
	i, err := otelconnect.NewInterceptor(all...)
	if err != nil {
		t.Fatalf("NewInterceptor: %v", err)
	}
	return i
}

// collect returns the metrics recorded since the last collection.
func (tel *telemetry) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// ended returns the spans ended since the last reset, and resets.
func (tel *telemetry) ended() []sdktrace.ReadOnlySpan {
	spans := tel.spans.Ended()
	tel.spans.Reset()
	return spans
}

// waitSpans waits until n spans ended (they may end on another goroutine,
// as when a context is canceled), failing after 10 s.
func (tel *telemetry) waitSpans(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(tel.spans.Ended()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d spans ended, want %d", len(tel.spans.Ended()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// attrs renders attributes as sorted "key=value" strings.
func attrs(kvs []attribute.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, fmt.Sprintf("%s=%s", kv.Key, kv.Value.String()))
	}
	sort.Strings(out)
	return out
}

func setAttrs(s attribute.Set) []string { return attrs(s.ToSlice()) }

// hist returns the data points of a float histogram, or fails.
func histFloat(t testing.TB, ms map[string]metricdata.Metrics, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Fatalf("no metric %s in %v", name, keys(ms))
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, not a float64 histogram", name, m.Data)
	}
	return h.DataPoints
}

func histInt(t testing.TB, ms map[string]metricdata.Metrics, name string) []metricdata.HistogramDataPoint[int64] {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Fatalf("no metric %s in %v", name, keys(ms))
	}
	h, ok := m.Data.(metricdata.Histogram[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int64 histogram", name, m.Data)
	}
	return h.DataPoints
}

func keys(ms map[string]metricdata.Metrics) []string {
	var out []string
	for k := range ms {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasKeyPrefix(list []string, prefix string) bool {
	for _, v := range list {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}

func attributeString(k, v string) attribute.KeyValue { return attribute.String(k, v) }

func metricBuckets(bounds ...float64) metric.Float64HistogramOption {
	return metric.WithExplicitBucketBoundaries(bounds...)
}
