package otelconnect

import (
	"net/http"

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
