package otelconnect

import (
	"net/http"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/propagation"
)

// headerCarrier adapts an [http.Header] to a [propagation.TextMapCarrier]
// like [propagation.HeaderCarrier], but finds the W3C keys (traceparent,
// tracestate, baggage) without canonicalizing them on every call, which
// costs an allocation per lookup.
type headerCarrier http.Header

var _ propagation.ValuesGetter = headerCarrier(nil)

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

// extractKeys returns the canonical header keys propagator extracts from,
// when they are known: true only for propagators whose every field is a W3C
// one (TraceContext, Baggage and composites of them), which read no other
// header. A request with none of those keys then has nothing to extract,
// and the call skips Extract and the context lookups around it.
//
// The global propagator is a delegate that can change after the
// interceptor is built, so it, like any other propagator, is always asked.
func extractKeys(propagator propagation.TextMapPropagator) ([]string, bool) {
	if t := reflect.TypeOf(propagator); t == nil || t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global" {
		return nil, false
	}
	fields := propagator.Fields()
	keys := make([]string, 0, len(fields))
	for _, field := range fields {
		switch strings.ToLower(field) {
		case "traceparent", "tracestate", "baggage":
			keys = append(keys, canonical(strings.ToLower(field)))
		default:
			return nil, false
		}
	}
	return keys, true
}

// hasAny reports whether header has a value for any of keys.
func hasAny(header http.Header, keys []string) bool {
	for _, key := range keys {
		if len(header[key]) > 0 {
			return true
		}
	}
	return false
}
