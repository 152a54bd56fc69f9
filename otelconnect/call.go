package otelconnect

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	oldsemconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

// Span start options shared by every call.
var (
	serverSpanKind = trace.WithSpanKind(trace.SpanKindServer)
	clientSpanKind = trace.WithSpanKind(trace.SpanKindClient)
	newRootSpan    = trace.WithNewRoot()
	clientStart    = []trace.SpanStartOption{clientSpanKind}
	sentEvent      = oldsemconv.RPCMessageTypeSent
	receivedEvent  = oldsemconv.RPCMessageTypeReceived
)

// epoch is the origin of clock.
var epoch = time.Now()

// clock reads the monotonic clock only: time.Since of a time with a
// monotonic reading reads one clock, where time.Now reads two (wall and
// monotonic). Durations are all a call needs.
func clock() time.Duration { return time.Since(epoch) }

// side is one side (handler or client) of an interceptor: its
// configuration, instruments and attribute cache. Everything in it is
// immutable after construction except the cache.
type side struct {
	cfg      *config
	isClient bool
	coding   errorCoding // how the adapter's connect-go codes errors
	conv     Conventions
	tracer   trace.Tracer
	tracing  bool // the tracer is not a no-op
	metrics  bool // the meter is not a no-op
	// wrapMessages is whether messages are observed: for the old size and
	// count histograms, or for message events.
	wrapMessages bool
	inst         instruments
	spanKind     trace.SpanStartOption
	cache        entryCache
	// overflowActive counts the calls in flight of entries a full cache
	// left out (see entryCache.store); overflowed is whether there ever
	// were any.
	overflowActive atomic.Int64
	overflowed     atomic.Bool
}

// call is the state of one call, from start to end. Its finish methods
// record the call's span and metrics.
type call struct {
	side     *side
	entry    *entry
	start    time.Duration   // monotonic, from clock; unused when timed
	timed    timedSpan       // the span, when its own times give the duration
	span     trace.Span      // nil without tracing
	ctx      context.Context // the call's context, with its span
	lctx     labelerContext  // the context carrying own, when needed
	own      Labeler         // the call's Labeler, unless the context had one
	opts     [6]trace.SpanStartOption
	labeler  *Labeler
	ended    atomic.Bool // a client stream ended (by any goroutine)
	finished bool        // finish ran (on the goroutine that runs the call)
	late     bool        // the span started before the entry was known (client streams)
	// captured says requestAttributes holds what WithTraceRequestHeader
	// records of a client stream's request header, taken on the stream's
	// goroutine when the header went out (see captureRequest); only that
	// goroutine sets it, and requestAttributes is read under mu.
	captured          bool
	requestAttributes []attribute.KeyValue
	sent              atomic.Int64
	received          atomic.Int64
	mu                sync.Mutex
	err               error // the last Send or Receive error but io.EOF (client streams)

	// requestSize and responseSize are a unary call's message sizes, which
	// the old conventions record when it ends (see record); a protobuf
	// message is under 2 GiB.
	requestSize, responseSize int32
}

// withLabeler returns ctx with a Labeler: the one it has, or the call's.
func (c *call) withLabeler(ctx context.Context) context.Context {
	if l, ok := ctx.Value(labelerContextKey{}).(*Labeler); ok {
		c.labeler = l
		return ctx
	}
	c.labeler = &c.own
	c.lctx = labelerContext{Context: ctx, labeler: &c.own}
	return &c.lctx
}

// beginServer starts recording a call a handler serves.
func (s *side) beginServer(ctx context.Context, spec connect.Spec, protocol, peerAddr string, header metadata) (context.Context, *call) {
	c := &call{side: s}
	c.entry = s.entry(spec, systemOf(protocol, s.cfg.rpcSystem), "")
	ctx = c.withLabeler(ctx)
	// A local span in the context (an outer instrumentation's, such as
	// otelhttp's) has decided whether to trust the caller: the call's span
	// is its child. A remote span context is the caller's word, whether
	// extracted here or by a middleware before: only WithTrustRemote makes
	// it the parent, otherwise the span is a new root linked to it.
	parent := trace.SpanContextFromContext(ctx)
	local := parent.IsValid() && !parent.IsRemote()
	// Without propagation headers there is nothing to extract; with a span
	// context in the context already, nothing to replace it (a middleware
	// that extracted one chose it, as its propagator may differ).
	if !parent.IsValid() && (!s.cfg.w3c.known || hasAny(header, s.cfg.w3c.extractKeys)) {
		ctx = s.cfg.propagator.Extract(ctx, header)
		parent = trace.SpanContextFromContext(ctx)
	}
	if s.tracing {
		opts := append(c.opts[:0], c.entry.startOptions...)
		if !local && !s.cfg.trustRemote && parent.IsValid() {
			// Without a remote parent the span is a new root anyway.
			opts = append(opts, newRootSpan, trace.WithLinks(trace.Link{SpanContext: parent}))
		}
		if extra := s.extraStartAttributes(spec, c.entry.key.system, header, peerAddr); len(extra) > 0 {
			opts = append(opts, trace.WithAttributes(extra...))
		}
		ctx, c.span = s.tracer.Start(ctx, c.entry.name, opts...)
	}
	c.startClock()
	c.ctx = ctx
	c.addActive(1)
	return ctx, c
}

// beginClient starts recording a call a client makes whose protocol and
// server address are known (unary calls), and injects the trace context
// into header.
func (s *side) beginClient(ctx context.Context, spec connect.Spec, protocol, address string, header metadata) (context.Context, *call) {
	c := &call{side: s}
	c.entry = s.entry(spec, systemOf(protocol, s.cfg.rpcSystem), address)
	ctx = c.withLabeler(ctx)
	if s.tracing {
		opts := append(c.opts[:0], c.entry.startOptions...)
		if extra := s.extraStartAttributes(spec, c.entry.key.system, header, ""); len(extra) > 0 {
			opts = append(opts, trace.WithAttributes(extra...))
		}
		ctx, c.span = s.tracer.Start(ctx, c.entry.name, opts...)
	}
	c.startClock()
	s.inject(ctx, c.span, header)
	c.ctx = ctx
	c.addActive(1)
	return ctx, c
}

// beginClientStream starts recording, in c, a client stream before it
// opens: its protocol and address are only known after, and bind sets
// them. c lives inside the stream's wrapper, to save an allocation.
func (s *side) beginClientStream(ctx context.Context, spec connect.Spec, c *call) context.Context {
	c.side = s
	c.late = true
	ctx = c.withLabeler(ctx)
	if s.tracing {
		ctx, c.span = s.tracer.Start(ctx, procedureName(spec.Procedure), clientStart...)
	}
	c.startClock()
	c.ctx = ctx
	return ctx
}

// bind completes beginClientStream once the stream is open, and injects
// the trace context into the request header, unless it is nil (the
// connect-go v2 adapter injects before the stream opens).
func (c *call) bind(spec connect.Spec, protocol, address string, header metadata) {
	s := c.side
	c.entry = s.entry(spec, systemOf(protocol, s.cfg.rpcSystem), address)
	if header != nil {
		s.inject(c.ctx, c.span, header)
	}
	c.addActive(1)
}

// timedSpan is a span that keeps its start and end times, as the SDK's
// do (sdktrace.ReadOnlySpan).
type timedSpan interface {
	StartTime() time.Time
	EndTime() time.Time
}

// startClock starts timing the call, once its span (if any) has started.
// A recording span that keeps its times (an SDK span) has read the clock
// when it started and will when it ends: the call's duration is the span's
// and costs no clock read of its own. Otherwise the call reads the clock.
// Without metrics nothing is timed.
func (c *call) startClock() {
	if !c.side.metrics {
		return
	}
	if c.span != nil && c.span.IsRecording() {
		if t, ok := c.span.(timedSpan); ok {
			c.timed = t
			return
		}
	}
	c.start = clock()
}

// inject writes the trace context of ctx, whose span (nil without
// tracing) is span, into header.
func (s *side) inject(ctx context.Context, span trace.Span, header metadata) {
	if !s.cfg.w3c.known {
		s.cfg.propagator.Inject(ctx, header)
		return
	}
	var sc trace.SpanContext
	if span != nil {
		sc = span.SpanContext()
	} else {
		sc = trace.SpanContextFromContext(ctx)
	}
	s.cfg.w3c.inject(ctx, sc, header)
}

// extraStartAttributes are the span attributes that vary per call: the
// captured request headers and, on handlers that ask for them, the peer's
// address.
func (s *side) extraStartAttributes(spec connect.Spec, system rpcSystem, header metadata, peerAddr string) []attribute.KeyValue {
	if len(s.cfg.requestHeaderKeys) == 0 && (!s.cfg.serverPeerAttributes || peerAddr == "") {
		return nil
	}
	attrs := appendHeaderAttributes(nil, header, s.cfg.requestHeaderKeys, "request", s.conv, system)
	if s.cfg.serverPeerAttributes && peerAddr != "" {
		start := len(attrs)
		if s.conv.current() {
			attrs = appendAddress(attrs, peerAddr, semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
		}
		if s.conv.old() {
			attrs = appendAddress(attrs, peerAddr, oldPeerNameKey, oldPeerPortKey)
		}
		attrs = append(attrs[:start], filterAttributes(spec, attrs[start:], s.cfg.attributeFilter, s.cfg.spanAttributeFilter)...)
	}
	return attrs
}

func (c *call) addActive(delta int64) {
	s := c.side
	if !s.metrics || s.inst.active == nil {
		return
	}
	if c.entry.cached {
		c.entry.active.Add(delta)
		return
	}
	s.overflowed.Store(true)
	s.overflowActive.Add(delta)
}

// setError keeps a Send or Receive error of a client stream.
func (c *call) setError(err error) {
	if err == nil || errors.Is(err, io.EOF) {
		return
	}
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// clientSent records a client stream's Send: its error, or the message.
// Both majors' stream wrappers call it.
func (c *call) clientSent(msg any, err error) {
	if err != nil {
		c.setError(err)
	} else if c.side.wrapMessages {
		c.message(true, msg)
	}
}

// clientReceived records a client stream's Receive: the message, or its
// error, which ends the call: the wrapper ends it when this reports true.
func (c *call) clientReceived(msg any, err error) (ends bool) {
	if err != nil {
		c.setError(err)
		return true
	}
	if c.side.wrapMessages {
		c.message(false, msg)
	}
	return false
}

func (c *call) lastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// message observes a message sent or received: the old size histograms and
// the message events.
func (c *call) message(sent bool, msg any) {
	s := c.side
	var id int64
	if sent {
		id = c.sent.Add(1)
	} else {
		id = c.received.Add(1)
	}
	events := s.cfg.messageEvents && c.span != nil && c.span.IsRecording()
	sizes := s.metrics && s.inst.requestSize != nil
	if !events && !sizes {
		return
	}
	size := 0
	if m, ok := msg.(proto.Message); ok {
		size = proto.Size(m)
	}
	if sizes {
		request := sent == s.isClient // clients send requests, handlers receive them
		switch {
		case c.entry.spec.StreamType == connect.StreamTypeUnary && request:
			c.requestSize = int32(size)
		case c.entry.spec.StreamType == connect.StreamTypeUnary:
			c.responseSize = int32(size)
		case request:
			s.inst.requestSize.Record(c.ctx, int64(size), c.entry.oldSizeOptions...)
		default:
			s.inst.responseSize.Record(c.ctx, int64(size), c.entry.oldSizeOptions...)
		}
	}
	if events {
		kind := receivedEvent
		if sent {
			kind = sentEvent
		}
		c.span.AddEvent("message", trace.WithAttributes(
			kind,
			oldsemconv.RPCMessageIDKey.Int64(id),
			oldsemconv.RPCMessageUncompressedSizeKey.Int(size),
		))
	}
}

// captureRequest records, on a client stream's own goroutine, what
// WithTraceRequestHeader keeps of its request header, once, as the header
// goes out (the first Send, or the end of the request stream). A stream
// abandoned to its context ends on another goroutine, which may not read
// the header, and is recorded with these.
func (c *call) captureRequest(header metadata) {
	s := c.side
	if c.captured || len(s.cfg.requestHeaderKeys) == 0 || c.span == nil || c.entry == nil {
		return
	}
	c.captured = true
	attrs := appendHeaderAttributes(nil, header, s.cfg.requestHeaderKeys, "request", s.conv, c.entry.key.system)
	c.mu.Lock()
	c.requestAttributes = attrs
	c.mu.Unlock()
}

// finish records the end of the call: its span attributes and status, the
// span's end, and its metrics. requestHeader, when not nil, is captured now
// (client streams); responseHeader, when not nil, is captured too.
func (c *call) finish(o outcome, err error, requestHeader, responseHeader metadata) {
	c.finished = true
	s := c.side
	oe := c.entry.outcome(o)
	if c.span != nil {
		if c.span.IsRecording() {
			if c.late && s.cfg.startAttributes {
				// Started before its protocol and server were known.
				c.span.SetAttributes(c.entry.startAttributes...)
			}
			c.span.SetAttributes(oe.spanAttributes...)
			if len(s.cfg.requestHeaderKeys) > 0 {
				if requestHeader != nil {
					c.span.SetAttributes(appendHeaderAttributes(nil, requestHeader, s.cfg.requestHeaderKeys, "request", s.conv, c.entry.key.system)...)
				} else {
					c.mu.Lock()
					captured := c.requestAttributes
					c.mu.Unlock()
					c.span.SetAttributes(captured...)
				}
			}
			if len(s.cfg.responseHeaderKeys) > 0 && responseHeader != nil {
				c.span.SetAttributes(appendHeaderAttributes(nil, responseHeader, s.cfg.responseHeaderKeys, "response", s.conv, c.entry.key.system)...)
			}
			if o.spanStatus(s.isClient) == codes.Error {
				c.span.SetStatus(codes.Error, errorMessage(err))
			}
		}
		c.span.End()
	}
	if s.metrics {
		c.record(oe)
	}
	c.addActive(-1)
}

// record records the call's metrics.
func (c *call) record(oe *outcomeEntry) {
	s := c.side
	var elapsed time.Duration
	if c.timed != nil {
		elapsed = c.timed.EndTime().Sub(c.timed.StartTime())
	} else {
		elapsed = clock() - c.start
	}
	labeled := !c.labeler.empty()
	if s.inst.duration != nil {
		opts := oe.recordOptions
		if labeled {
			opts = c.labeledOptions(oe.metricAttributes)
		}
		s.inst.duration.Record(c.ctx, elapsed.Seconds(), opts...)
	}
	if s.inst.oldDuration != nil {
		opts := oe.oldRecordOptions
		if labeled {
			opts = c.labeledOptions(oe.oldMetricAttributes)
		}
		s.inst.oldDuration.Record(c.ctx, float64(elapsed)/float64(time.Millisecond), opts...)
		requests, responses := c.received.Load(), c.sent.Load()
		if s.isClient {
			requests, responses = responses, requests
		}
		if c.entry.spec.StreamType == connect.StreamTypeUnary {
			// As otelconnect v0.9 records a unary call: its sizes when it
			// ends, with its outcome's attributes as the duration, and one
			// message each way, failed or not (a failed call's response is
			// 0 bytes). Streams record each message's size as it goes, with
			// the request attributes only.
			s.inst.requestSize.Record(c.ctx, int64(c.requestSize), opts...)
			s.inst.responseSize.Record(c.ctx, int64(c.responseSize), opts...)
			requests, responses = 1, 1
		}
		s.inst.requestsPerRPC.Record(c.ctx, requests, opts...)
		s.inst.responsesPerRPC.Record(c.ctx, responses, opts...)
	}
}

func (c *call) labeledOptions(base []attribute.KeyValue) []metric.RecordOption {
	attrs := c.labeler.appendTo(append(make([]attribute.KeyValue, 0, len(base)+4), base...))
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
}

// endOnce ends a client stream exactly once. user is true when the
// stream's own goroutine ends it (it then passes the stream's headers to
// capture); false when the context ended first, on another goroutine,
// which must not touch the stream.
func (c *call) endOnce(user bool, requestHeader, responseHeader metadata) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	err := c.lastError()
	o := c.side.coding.outcome(err)
	if err == nil && !user {
		// Abandoned: the context ended before the stream did.
		o = outcomeOfContext(c.ctx)
		err = c.ctx.Err()
	}
	c.finish(o, err, requestHeader, responseHeader)
}

// errPanicked is the error a call that panicked is recorded with.
var errPanicked = errors.New("panic")

// finishOnPanic, deferred, records a call whose handler (or an interceptor
// inside) panicked as UNKNOWN, and lets the panic go on.
func (c *call) finishOnPanic() {
	if !c.finished {
		c.finish(outcomeOfCode(connect.CodeUnknown), errPanicked, nil, nil)
	}
}
