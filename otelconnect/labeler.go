package otelconnect

import (
	"context"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
)

// Labeler lets a handler (or code around a client call) add attributes to
// the metrics the interceptor records for the call. They are not added to
// spans. It is safe for concurrent use; the zero value is ready.
type Labeler struct {
	mu         sync.Mutex
	attributes []attribute.KeyValue
}

// Add adds attributes to the Labeler.
func (l *Labeler) Add(attrs ...attribute.KeyValue) {
	l.mu.Lock()
	l.attributes = append(l.attributes, attrs...)
	l.mu.Unlock()
}

// Get returns a copy of the attributes added to the Labeler.
func (l *Labeler) Get() []attribute.KeyValue {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attributes)
}

// appendTo appends the Labeler's attributes to attrs.
func (l *Labeler) appendTo(attrs []attribute.KeyValue) []attribute.KeyValue {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(attrs, l.attributes...)
}

// empty reports whether nothing was added.
func (l *Labeler) empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.attributes) == 0
}

type labelerContextKey struct{}

// ContextWithLabeler returns a copy of parent carrying l. The interceptor
// adds the attributes of the context's Labeler to the metrics of the call
// made (client) or served (handler) with it. A second call replaces the
// Labeler.
func ContextWithLabeler(parent context.Context, l *Labeler) context.Context {
	return context.WithValue(parent, labelerContextKey{}, l)
}

// LabelerFromContext returns the context's Labeler and true. The
// interceptor puts one in the context of every call it records, so a
// handler always finds one. Without one it returns a new, unused Labeler
// and false: adding to it is safe and has no effect.
func LabelerFromContext(ctx context.Context) (*Labeler, bool) {
	if l, ok := ctx.Value(labelerContextKey{}).(*Labeler); ok {
		return l, true
	}
	return &Labeler{}, false
}

// labelerContext is a context carrying a Labeler without an allocation of
// its own: it lives inside the call's state.
type labelerContext struct {
	context.Context
	labeler *Labeler
}

// Value returns the Labeler for its key and asks the parent otherwise.
func (c *labelerContext) Value(key any) any {
	if _, ok := key.(labelerContextKey); ok {
		return c.labeler
	}
	return c.Context.Value(key)
}
