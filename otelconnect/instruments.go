package otelconnect

import (
	"go.opentelemetry.io/otel/metric"
	oldrpcconv "go.opentelemetry.io/otel/semconv/v1.37.0/rpcconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
)

// durationBuckets are the bucket boundaries, in seconds, the RPC
// conventions advise for rpc.*.call.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// instruments are one side's metric instruments. Those of conventions not
// in use are nil.
type instruments struct {
	duration        metric.Float64Histogram // current conventions, seconds
	oldDuration     metric.Float64Histogram // old conventions, milliseconds
	requestSize     metric.Int64Histogram
	responseSize    metric.Int64Histogram
	requestsPerRPC  metric.Int64Histogram
	responsesPerRPC metric.Int64Histogram
	// active counts the calls in flight (WithInFlightMetric), under the
	// current conventions' attributes, or the old ones' when only those
	// are in use. It is observed, not added to: see side.observeInFlight.
	active metric.Int64ObservableUpDownCounter
}

// instrumentNames are the names, units and descriptions of one side's
// instruments.
type instrumentNames struct {
	duration, durationUnit, durationDesc          string
	oldDuration, oldDurationUnit, oldDurationDesc string
	requestSize, requestSizeDesc                  string
	responseSize, responseSizeDesc                string
	requestsPerRPC, requestsPerRPCDesc            string
	responsesPerRPC, responsesPerRPCDesc          string
	active, activeDesc                            string
}

// namesFor returns the names the semantic-conventions packages give each
// side's instruments (v1.43 for the current ones, v1.37, the last with the
// old ones, for the rest).
func namesFor(isClient bool) instrumentNames {
	if isClient {
		return instrumentNames{
			duration: rpcconv.ClientCallDuration{}.Name(), durationUnit: rpcconv.ClientCallDuration{}.Unit(), durationDesc: rpcconv.ClientCallDuration{}.Description(),
			oldDuration: oldrpcconv.ClientDuration{}.Name(), oldDurationUnit: oldrpcconv.ClientDuration{}.Unit(), oldDurationDesc: oldrpcconv.ClientDuration{}.Description(),
			requestSize: oldrpcconv.ClientRequestSize{}.Name(), requestSizeDesc: oldrpcconv.ClientRequestSize{}.Description(),
			responseSize: oldrpcconv.ClientResponseSize{}.Name(), responseSizeDesc: oldrpcconv.ClientResponseSize{}.Description(),
			requestsPerRPC: oldrpcconv.ClientRequestsPerRPC{}.Name(), requestsPerRPCDesc: oldrpcconv.ClientRequestsPerRPC{}.Description(),
			responsesPerRPC: oldrpcconv.ClientResponsesPerRPC{}.Name(), responsesPerRPCDesc: oldrpcconv.ClientResponsesPerRPC{}.Description(),
			active: "rpc.client.active_calls", activeDesc: "Number of outgoing RPCs in progress.",
		}
	}
	return instrumentNames{
		duration: rpcconv.ServerCallDuration{}.Name(), durationUnit: rpcconv.ServerCallDuration{}.Unit(), durationDesc: rpcconv.ServerCallDuration{}.Description(),
		oldDuration: oldrpcconv.ServerDuration{}.Name(), oldDurationUnit: oldrpcconv.ServerDuration{}.Unit(), oldDurationDesc: oldrpcconv.ServerDuration{}.Description(),
		requestSize: oldrpcconv.ServerRequestSize{}.Name(), requestSizeDesc: oldrpcconv.ServerRequestSize{}.Description(),
		responseSize: oldrpcconv.ServerResponseSize{}.Name(), responseSizeDesc: oldrpcconv.ServerResponseSize{}.Description(),
		requestsPerRPC: oldrpcconv.ServerRequestsPerRPC{}.Name(), requestsPerRPCDesc: oldrpcconv.ServerRequestsPerRPC{}.Description(),
		responsesPerRPC: oldrpcconv.ServerResponsesPerRPC{}.Name(), responsesPerRPCDesc: oldrpcconv.ServerResponsesPerRPC{}.Description(),
		active: "rpc.server.active_calls", activeDesc: "Number of incoming RPCs in progress.",
	}
}

// newInstruments creates one side's instruments.
func newInstruments(meter metric.Meter, isClient bool, conv Conventions, inFlight bool, durationOptions []metric.Float64HistogramOption) (instruments, error) {
	names := namesFor(isClient)
	var inst instruments
	var err error
	if conv.current() {
		options := make([]metric.Float64HistogramOption, 0, 3+len(durationOptions))
		options = append(options,
			metric.WithUnit(names.durationUnit),
			metric.WithDescription(names.durationDesc),
			metric.WithExplicitBucketBoundaries(durationBuckets...),
		)
		// The caller's options come last and win.
		options = append(options, durationOptions...)
		if inst.duration, err = meter.Float64Histogram(names.duration, options...); err != nil {
			return inst, err
		}
		if inFlight {
			if inst.active, err = meter.Int64ObservableUpDownCounter(names.active, metric.WithUnit("{call}"), metric.WithDescription(names.activeDesc)); err != nil {
				return inst, err
			}
		}
	}
	if conv.old() {
		// A float histogram in milliseconds: otelconnect v0.9 recorded
		// whole milliseconds in an integer one (every call under 1 ms was
		// 0); the name, unit and Prometheus series are the same.
		if inst.oldDuration, err = meter.Float64Histogram(names.oldDuration, metric.WithUnit(names.oldDurationUnit), metric.WithDescription(names.oldDurationDesc)); err != nil {
			return inst, err
		}
		sizes := []struct {
			h          *metric.Int64Histogram
			name, desc string
			unit       string
		}{
			{&inst.requestSize, names.requestSize, names.requestSizeDesc, "By"},
			{&inst.responseSize, names.responseSize, names.responseSizeDesc, "By"},
			// Unit "1", as otelconnect v0.9 had it.
			{&inst.requestsPerRPC, names.requestsPerRPC, names.requestsPerRPCDesc, "1"},
			{&inst.responsesPerRPC, names.responsesPerRPC, names.responsesPerRPCDesc, "1"},
		}
		for _, s := range sizes {
			if *s.h, err = meter.Int64Histogram(s.name, metric.WithUnit(s.unit), metric.WithDescription(s.desc)); err != nil {
				return inst, err
			}
		}
		if inFlight && !conv.current() {
			if inst.active, err = meter.Int64ObservableUpDownCounter(names.active, metric.WithUnit("{call}"), metric.WithDescription(names.activeDesc)); err != nil {
				return inst, err
			}
		}
	}
	return inst, nil
}
