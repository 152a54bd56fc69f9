package otelconnect_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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

// collectAll collects until every metric of names has data, merging
// collections: a call that ends on another goroutine (a handler that
// answered already, a client stream abandoned to its context) records its
// metrics just after its span ends.
func collectAll(t *testing.T, tel *telemetry, names ...string) map[string]metricdata.Metrics {
	t.Helper()
	out := map[string]metricdata.Metrics{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for name, m := range tel.collect(t) {
			if hasData(m) {
				out[name] = m
			}
		}
		missing := false
		for _, name := range names {
			if _, ok := out[name]; !ok {
				missing = true
			}
		}
		if !missing {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics %v, want %v", keys(out), names)
		}
		time.Sleep(time.Millisecond)
	}
}

func hasData(m metricdata.Metrics) bool {
	switch data := m.Data.(type) {
	case metricdata.Histogram[float64]:
		return len(data.DataPoints) > 0
	case metricdata.Histogram[int64]:
		return len(data.DataPoints) > 0
	}
	return true
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

// codeOf is the code of an error of either connect-go major, or 0 for nil.
func codeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*connectv2.Error](err); ok && e != nil {
		return connect.Code(e.Code())
	}
	return connect.CodeOf(err)
}

// isServerFault reports whether a server span fails with code, as the
// conventions say.
func isServerFault(code connect.Code) bool {
	switch code {
	case connect.CodeUnknown, connect.CodeDeadlineExceeded, connect.CodeUnimplemented,
		connect.CodeInternal, connect.CodeUnavailable, connect.CodeDataLoss:
		return true
	}
	return false
}

// checkServerRecorded checks that tel recorded one server span and one
// duration, with code (0 for OK) and the span status the conventions give
// it.
func checkServerRecorded(t *testing.T, tel *telemetry, code connect.Code) {
	t.Helper()
	checkRecorded(t, tel, trace.SpanKindServer, "rpc.server.call.duration", code)
}

// checkClientRecorded checks the same of a client call, and returns its
// span.
func checkClientRecorded(t *testing.T, tel *telemetry, code connect.Code) sdktrace.ReadOnlySpan {
	t.Helper()
	return checkRecorded(t, tel, trace.SpanKindClient, "rpc.client.call.duration", code)
}

func checkRecorded(t *testing.T, tel *telemetry, kind trace.SpanKind, duration string, code connect.Code) sdktrace.ReadOnlySpan {
	t.Helper()
	status, wantStatus := "OK", codes.Unset
	if code != 0 {
		status = strings.ToUpper(code.String())
		if kind == trace.SpanKindClient || isServerFault(code) {
			wantStatus = codes.Error
		}
	}
	tel.waitSpans(t, 1)
	spans := tel.ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	span := spans[0]
	if span.SpanKind() != kind {
		t.Fatalf("span kind %v, want %v", span.SpanKind(), kind)
	}
	if a := attrs(span.Attributes()); !contains(a, "rpc.response.status_code="+status) {
		t.Errorf("span attributes %v, want rpc.response.status_code=%s", a, status)
	}
	if span.Status().Code != wantStatus {
		t.Errorf("span status %v, want %v", span.Status().Code, wantStatus)
	}
	points := histFloat(t, collectAll(t, tel, duration), duration)
	if len(points) != 1 {
		t.Fatalf("%d %s points, want 1", len(points), duration)
	}
	if a := setAttrs(points[0].Attributes); !contains(a, "rpc.response.status_code="+status) {
		t.Errorf("%s attributes %v, want rpc.response.status_code=%s", duration, a, status)
	}
	return span
}
