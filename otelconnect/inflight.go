package otelconnect

import (
	"context"
	"runtime"
	"weak"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// overflowOptions observe the in-flight calls of entries left out of a
// full cache, as the SDK reports series past its cardinality limit.
var overflowOptions = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(attribute.Bool("otel.metric.overflow", true)))}

// registerInFlight registers the callback that reports the calls in flight.
// A call only adds to its entry's atomic counter (WithInFlightMetric costs
// no SDK call per call); the SDK reads the counters when it collects.
//
// The callback holds the side weakly: the meter provider outlives
// interceptors, and one dropped by its program is unregistered once it is
// garbage collected.
func (s *side) registerInFlight(meter metric.Meter) error {
	self := weak.Make(s)
	counter := s.inst.active
	registration, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if side := self.Value(); side != nil {
			side.observeInFlight(o, counter)
		}
		return nil
	}, counter)
	if err != nil {
		return err
	}
	runtime.AddCleanup(s, func(r metric.Registration) { _ = r.Unregister() }, registration)
	return nil
}

// observeInFlight reports the calls in flight of every cached entry, and
// of the entries a full cache left out.
func (s *side) observeInFlight(o metric.Observer, counter metric.Int64ObservableUpDownCounter) {
	if m := s.cache.entries.Load(); m != nil {
		for _, e := range *m {
			o.ObserveInt64(counter, e.active.Load(), e.activeOptions...)
		}
	}
	if s.overflowed.Load() {
		o.ObserveInt64(counter, s.overflowActive.Load(), overflowOptions...)
	}
}
