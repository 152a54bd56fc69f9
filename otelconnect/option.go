package otelconnect

import (
	"context"
	"net/http"
	"reflect"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The RPC systems [WithRPCSystem] accepts.
var (
	// ConnectRPCSystem makes every call report the ConnectRPC conventions
	// (rpc.system.name "connectrpc"), whatever its wire protocol.
	ConnectRPCSystem RPCSystem = connectRPCSystem{}
	// GRPCSystem makes every call report the gRPC conventions
	// (rpc.system.name "grpc"), whatever its wire protocol.
	GRPCSystem RPCSystem = grpcRPCSystem{}
)

// An Option configures the [Interceptor], and the connect-go v2
// interceptors of [NewServerInterceptor] and [NewClientInterceptor].
type Option interface {
	apply(*config)
}

// config is the interceptor's configuration after the options applied.
type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	// w3c says whether propagator is made of the W3C ones only, which
	// allows the fast paths in carrier.go.
	w3c                   w3c
	filter                func(context.Context, connect.Spec) bool
	attributeFilter       AttributeFilter
	spanAttributeFilter   AttributeFilter
	metricAttributeFilter AttributeFilter
	trustRemote           bool
	requestHeaderKeys     []string
	responseHeaderKeys    []string
	propagateResponse     bool
	serverPeerAttributes  bool
	rpcSystem             RPCSystem
	durationOptions       []metric.Float64HistogramOption
	conventions           Conventions
	inFlight              bool
	messageEvents         bool
	startAttributes       bool
}

// WithPropagator sets the propagator that extracts the trace context of
// incoming calls and injects it into outgoing ones. The default is
// [go.opentelemetry.io/otel.GetTextMapPropagator]. A nil propagator is
// ignored.
func WithPropagator(propagator propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if propagator != nil {
			c.propagator = propagator
		}
	})
}

// WithMeterProvider sets the meter provider that creates the instruments.
// The default is [go.opentelemetry.io/otel.GetMeterProvider].
func WithMeterProvider(provider metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if provider != nil {
			c.meterProvider = provider
		}
	})
}

// WithTracerProvider sets the tracer provider that creates the spans. The
// default is [go.opentelemetry.io/otel.GetTracerProvider].
func WithTracerProvider(provider trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if provider != nil {
			c.tracerProvider = provider
		}
	})
}

// WithFilter records telemetry only for the calls the filter returns true
// for; the others pass through untouched. The filter must be safe to call
// concurrently. The [filters] package has ready-made filters (health checks,
// reflection, procedure and service prefixes) and combinators.
//
// On clients, the spec's IsClient is true.
//
// The filter may take a connect-go v1 or v2 (connectrpc.com/connect/v2)
// spec, and works with the interceptors of either major: a v1 spec made
// from a v2 call has IsClient set from the interceptor's side, and a v2
// spec made from a v1 call has the v1 spec's other fields.
//
// [filters]: https://pkg.go.dev/github.com/connectware/connectware/otelconnect/filters
func WithFilter[F ~func(context.Context, connect.Spec) bool | ~func(context.Context, connectv2.Spec) bool](filter F) Option {
	var f func(context.Context, connect.Spec) bool
	if v2, ok := convertFunc[func(context.Context, connectv2.Spec) bool](filter); ok {
		if v2 != nil {
			f = func(ctx context.Context, spec connect.Spec) bool { return v2(ctx, specToV2(spec)) }
		}
	} else {
		f, _ = convertFunc[func(context.Context, connect.Spec) bool](filter)
	}
	return optionFunc(func(c *config) {
		c.filter = f
	})
}

// convertFunc converts fn, of a type whose underlying type is T's, to T.
// It reports false when the types differ.
func convertFunc[T, F any](fn F) (T, bool) {
	var t T
	if f, ok := any(fn).(T); ok {
		return f, true
	}
	v, to := reflect.ValueOf(fn), reflect.TypeFor[T]()
	if !v.Type().ConvertibleTo(to) {
		return t, false
	}
	return v.Convert(to).Interface().(T), true
}

// WithoutTracing disables tracing: no span is started.
func WithoutTracing() Option {
	return WithTracerProvider(tracenoop.NewTracerProvider())
}

// WithoutMetrics disables metrics: nothing is recorded.
func WithoutMetrics() Option {
	return WithMeterProvider(metricnoop.NewMeterProvider())
}

// WithAttributeFilter sets a filter applied to every attribute of spans and
// metrics: an attribute is kept when it returns true. It must be safe to
// call concurrently and give the same answer for the same spec and
// attribute: its answers are cached per procedure.
// [WithSpanAttributeFilter] and [WithMetricAttributeFilter] add filters for
// one signal only.
//
// The filter may take a connect-go v1 or v2 (connectrpc.com/connect/v2)
// spec, as with [WithFilter].
func WithAttributeFilter[F ~func(connect.Spec, attribute.KeyValue) bool | ~func(connectv2.Spec, attribute.KeyValue) bool](filter F) Option {
	var f AttributeFilter
	if v2, ok := convertFunc[func(connectv2.Spec, attribute.KeyValue) bool](filter); ok {
		if v2 != nil {
			f = func(spec connect.Spec, kv attribute.KeyValue) bool { return v2(specToV2(spec), kv) }
		}
	} else {
		f, _ = convertFunc[AttributeFilter](filter)
	}
	return optionFunc(func(c *config) {
		c.attributeFilter = f
	})
}

// WithSpanAttributeFilter sets a filter applied, after the one of
// [WithAttributeFilter], to span attributes only: use it to keep an
// attribute on metrics but off spans.
func WithSpanAttributeFilter(filter AttributeFilter) Option {
	return optionFunc(func(c *config) {
		c.spanAttributeFilter = filter
	})
}

// WithMetricAttributeFilter sets a filter applied, after the one of
// [WithAttributeFilter], to metric attributes only: use it to keep an
// attribute (server.port, say) on spans but off metrics, where every
// distinct value is a new time series.
func WithMetricAttributeFilter(filter AttributeFilter) Option {
	return optionFunc(func(c *config) {
		c.metricAttributeFilter = filter
	})
}

// WithSpanStartAttributes gives a span its request attributes (rpc.method,
// rpc.system.name, and server.address and server.port on clients) when it
// starts rather than when its call ends, so that samplers see them, as
// connectrpc.com/otelconnect's samplers do. By default samplers see the
// span's name (the procedure) and kind only, which saves a copy and two
// allocations per call (4 against 6 for an SDK-traced unary handler).
// Client streams, whose protocol and server are only known once they
// open, get theirs when they end either way.
func WithSpanStartAttributes() Option {
	return optionFunc(func(c *config) {
		c.startAttributes = true
	})
}

// WithServerPeerAttributes adds network.peer.address and network.peer.port
// to server spans (never to metrics). They are off by default: every client
// connection has its own port.
func WithServerPeerAttributes() Option {
	return optionFunc(func(c *config) {
		c.serverPeerAttributes = true
	})
}

// WithTrustRemote makes server spans children of the caller's span. By
// default a server span starts a new trace, linked to the caller's span with
// a [trace.Link], since the caller may be anyone on the network. A remote
// span context that a middleware put in the handler's context is the
// caller's too, and treated alike; a local span there (an outer
// instrumentation's, such as otelhttp's) is always the parent. Client spans
// always continue the trace in their context.
func WithTrustRemote() Option {
	return optionFunc(func(c *config) {
		c.trustRemote = true
	})
}

// WithTraceRequestHeader records the values of the named request headers
// as span attributes (rpc.request.metadata.<lower-case key>), never as
// metric attributes.
func WithTraceRequestHeader(keys ...string) Option {
	return optionFunc(func(c *config) {
		for _, key := range keys {
			c.requestHeaderKeys = append(c.requestHeaderKeys, http.CanonicalHeaderKey(key))
		}
	})
}

// WithTraceResponseHeader records the values of the named response headers
// as span attributes (rpc.response.metadata.<lower-case key>), never as
// metric attributes.
func WithTraceResponseHeader(keys ...string) Option {
	return optionFunc(func(c *config) {
		for _, key := range keys {
			c.responseHeaderKeys = append(c.responseHeaderKeys, http.CanonicalHeaderKey(key))
		}
	})
}

// WithPropagateResponseHeader makes handlers inject their span's context
// (traceparent) into the response headers, so clients can find the server's
// trace.
func WithPropagateResponseHeader() Option {
	return optionFunc(func(c *config) {
		c.propagateResponse = true
	})
}

// WithRPCSystem reports every call under one RPC system's conventions,
// whatever its wire protocol. By default gRPC and gRPC-Web calls report
// "grpc" and Connect calls "connectrpc", which splits the telemetry of a
// service its clients reach in several protocols.
func WithRPCSystem(system RPCSystem) Option {
	return optionFunc(func(c *config) {
		c.rpcSystem = system
	})
}

// WithDurationHistogramOptions passes options to the call duration
// histogram (of the current conventions), for example
// [metric.WithExplicitBucketBoundaries] to replace the advised buckets.
func WithDurationHistogramOptions(options ...metric.Float64HistogramOption) Option {
	return optionFunc(func(c *config) {
		c.durationOptions = append(c.durationOptions, options...)
	})
}

// WithConventions selects the semantic conventions, overriding the
// OTEL_SEMCONV_STABILITY_OPT_IN environment variable.
func WithConventions(conventions Conventions) Option {
	return optionFunc(func(c *config) {
		c.conventions = conventions
	})
}

// WithInFlightMetric adds an up-down counter of the calls in progress, per
// method: rpc.server.active_calls on handlers and rpc.client.active_calls on
// clients, with rpc.system.name and rpc.method (rpc.system, rpc.service and
// rpc.method under the old conventions).
//
// The counter is asynchronous (an observable up-down counter): a call only
// adds to an atomic, and the SDK reads the counts when it collects, so the
// metric costs next to nothing per call. Client calls to more distinct
// server addresses than the interceptor caches (4096 per procedure and
// system together) are counted in one series marked
// otel.metric.overflow=true. The interceptor's callback is unregistered
// when the interceptor is garbage collected.
func WithInFlightMetric() Option {
	return optionFunc(func(c *config) {
		c.inFlight = true
	})
}

// WithMessageEvents adds a span event named "message" for every message
// sent and received, with rpc.message.type (SENT or RECEIVED), rpc.message.id
// (1, 2, ... in each direction) and rpc.message.uncompressed_size. Events are
// off by default: they cost an allocation or more per message.
func WithMessageEvents() Option {
	return optionFunc(func(c *config) {
		c.messageEvents = true
	})
}

// RPCSystem is an RPC system whose conventions [WithRPCSystem] applies to
// every call: [ConnectRPCSystem] or [GRPCSystem].
type RPCSystem interface {
	system() rpcSystem
}

type connectRPCSystem struct{}

func (connectRPCSystem) system() rpcSystem { return systemConnect }

type grpcRPCSystem struct{}

func (grpcRPCSystem) system() rpcSystem { return systemGRPC }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }
