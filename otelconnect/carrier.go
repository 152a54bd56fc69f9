package otelconnect

import (
	"context"
	"encoding/hex"
	"net/http"
	"reflect"
	"unsafe"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// headerCarrier adapts an [http.Header] to a [propagation.TextMapCarrier]
// like [propagation.HeaderCarrier], but finds the W3C keys (traceparent,
// tracestate, baggage) without canonicalizing them on every call, which
// costs an allocation per lookup.
type headerCarrier http.Header

var _ metadata = headerCarrier(nil)

// metadata is a call's request or response header as the recorder sees it,
// whichever connect-go major carries it: an [http.Header] (v1, as
// headerCarrier) or a *connect.Header (v2, as v2Header). Both are
// pointer-shaped, so holding one in a metadata costs no allocation.
type metadata interface {
	propagation.TextMapCarrier
	propagation.ValuesGetter
	// canonicalValues returns the values of key, which is already in
	// canonical form (http.CanonicalHeaderKey).
	canonicalValues(key string) []string
	// setCanonical replaces the values of the canonical key with values,
	// which it keeps.
	setCanonical(key string, values []string)
}

// v1Header returns header as metadata: nil for a nil header.
func v1Header(header http.Header) metadata {
	if header == nil {
		return nil
	}
	return headerCarrier(header)
}

func canonical(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

// Get returns the first value of key.
func (h headerCarrier) Get(key string) string {
	if v := h[canonical(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of key.
func (h headerCarrier) Values(key string) []string {
	return h[canonical(key)]
}

// Set replaces the values of key.
func (h headerCarrier) Set(key, value string) {
	h[canonical(key)] = []string{value}
}

// Keys lists the header's keys.
func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

func (h headerCarrier) canonicalValues(key string) []string { return h[key] }

func (h headerCarrier) setCanonical(key string, values []string) { h[key] = values }

// w3c describes a propagator known to be made of the W3C ones only:
// propagation.TraceContext and propagation.Baggage, alone or in composites
// (propagation.NewCompositeTextMapPropagator). For those the interceptor
// skips Extract when a request has none of their headers, and injects the
// trace context itself, writing exactly what TraceContext writes with one
// allocation instead of three (see TestInjectMatchesPropagator). Every
// other propagator, the global one included (it is a delegate that can
// change after the interceptor is built), is always called.
type w3c struct {
	known        bool
	traceContext bool     // has propagation.TraceContext
	baggage      bool     // has propagation.Baggage
	extractKeys  []string // the canonical header keys they read
}

const propagationPkg = "go.opentelemetry.io/otel/propagation"

func identifyPropagator(p propagation.TextMapPropagator) w3c {
	var w w3c
	w.known = w.add(p, 0)
	if !w.known {
		return w3c{}
	}
	if w.traceContext {
		w.extractKeys = append(w.extractKeys, "Traceparent", "Tracestate")
	}
	if w.baggage {
		w.extractKeys = append(w.extractKeys, "Baggage")
	}
	return w
}

// add records p's parts in w, and reports whether they are all known.
func (w *w3c) add(p propagation.TextMapPropagator, depth int) bool {
	switch p.(type) {
	case propagation.TraceContext:
		w.traceContext = true
		return true
	case propagation.Baggage:
		w.baggage = true
		return true
	}
	v := reflect.ValueOf(p)
	if depth > 4 || !v.IsValid() || v.Kind() != reflect.Slice ||
		v.Type().PkgPath() != propagationPkg || v.Type().Name() != "compositeTextMapPropagator" {
		return false
	}
	for i := range v.Len() {
		part, ok := v.Index(i).Interface().(propagation.TextMapPropagator)
		if !ok || !w.add(part, depth+1) {
			return false
		}
	}
	return true
}

// hasAny reports whether header has a value for any of keys.
func hasAny(header metadata, keys []string) bool {
	for _, key := range keys {
		if len(header.canonicalValues(key)) > 0 {
			return true
		}
	}
	return false
}

// traceparent is the memory of one injected traceparent header: its value
// slice and its bytes, in one allocation.
type traceparent struct {
	values [1]string
	text   [55]byte // "00-" 32 hex "-" 16 hex "-" 2 hex
}

// injectW3C writes into header what propagation.TraceContext and
// propagation.Baggage (as w has them) would write for ctx, whose span
// context is sc.
func (w *w3c) inject(ctx context.Context, sc trace.SpanContext, header metadata) {
	if w.traceContext && sc.IsValid() {
		if ts := sc.TraceState().String(); ts != "" {
			header.setCanonical("Tracestate", []string{ts})
		}
		tp := new(traceparent)
		b := tp.text[:0]
		b = append(b, "00-"...)
		id := sc.TraceID()
		b = hex.AppendEncode(b, id[:])
		b = append(b, '-')
		span := sc.SpanID()
		b = hex.AppendEncode(b, span[:])
		b = append(b, '-')
		// Only the flags the standard defines: sampled and random.
		b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
		tp.values[0] = unsafe.String(&tp.text[0], len(b))
		header.setCanonical("Traceparent", tp.values[:])
	}
	if w.baggage {
		propagation.Baggage{}.Inject(ctx, header)
	}
}
