package otelconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const (
	instrumentationName = "github.com/connectware/connectware/otelconnect"
	// instrumentationVersion is reported as the scope version.
	instrumentationVersion = "semver:0.1.0"
)

// Interceptor is a [connect.Interceptor] that adds OpenTelemetry tracing and
// metrics to connect-go handlers and clients. Use one Interceptor for both:
// it tells them apart by the call's [connect.Spec]. It is safe for
// concurrent use.
type Interceptor struct {
	client *side
	server *side
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an [Interceptor] configured by options. Without
// options it uses the global tracer provider, meter provider and propagator
// of [go.opentelemetry.io/otel]. It fails only when an instrument cannot be
// created.
func NewInterceptor(options ...Option) (*Interceptor, error) {
	cfg := newConfig(options)
	client, err := newSide(cfg, true, codingV1)
	if err != nil {
		return nil, err
	}
	server, err := newSide(cfg, false, codingV1)
	if err != nil {
		return nil, err
	}
	return &Interceptor{client: client, server: server}, nil
}

// newConfig applies options over the defaults.
func newConfig(options []Option) *config {
	cfg := &config{
		conventions: ConventionsFromEnv,
	}
	for _, option := range options {
		option.apply(cfg)
	}
	if cfg.tracerProvider == nil {
		cfg.tracerProvider = otel.GetTracerProvider()
	}
	if cfg.meterProvider == nil {
		cfg.meterProvider = otel.GetMeterProvider()
	}
	if cfg.propagator == nil {
		cfg.propagator = otel.GetTextMapPropagator()
	}
	cfg.w3c = identifyPropagator(cfg.propagator)
	cfg.conventions = cfg.conventions.resolve(os.Getenv)
	return cfg
}

// newSide returns the recorder of one side (handler or client) of the
// calls, which both connect-go majors' adapters share; coding is how the
// adapter's connect-go codes errors.
func newSide(cfg *config, isClient bool, coding errorCoding) (*side, error) {
	tracer := cfg.tracerProvider.Tracer(instrumentationName, trace.WithInstrumentationVersion(instrumentationVersion))
	meter := cfg.meterProvider.Meter(instrumentationName, metric.WithInstrumentationVersion(instrumentationVersion))
	s, err := newSideWith(cfg, isClient, tracer, meter)
	if err != nil {
		if isClient {
			return nil, fmt.Errorf("otelconnect: client instruments: %w", err)
		}
		return nil, fmt.Errorf("otelconnect: handler instruments: %w", err)
	}
	s.coding = coding
	return s, nil
}

func newSideWith(cfg *config, isClient bool, tracer trace.Tracer, meter metric.Meter) (*side, error) {
	_, noopTracer := tracer.(tracenoop.Tracer)
	_, noopMeter := cfg.meterProvider.(metricnoop.MeterProvider)
	s := &side{
		cfg:      cfg,
		isClient: isClient,
		conv:     cfg.conventions,
		tracer:   tracer,
		tracing:  !noopTracer,
		metrics:  !noopMeter,
		spanKind: serverSpanKind,
	}
	if isClient {
		s.spanKind = clientSpanKind
	}
	s.cache.limit = maxEntries
	s.wrapMessages = cfg.conventions.old() && s.metrics || cfg.messageEvents && s.tracing
	var err error
	s.inst, err = newInstruments(meter, isClient, cfg.conventions, cfg.inFlight, cfg.durationOptions)
	if err != nil {
		return s, err
	}
	if s.metrics && s.inst.active != nil {
		err = s.registerInFlight(meter)
	}
	return s, err
}

// WrapUnary records unary calls, on clients and handlers.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		spec := req.Spec()
		s := i.server
		if spec.IsClient {
			s = i.client
		}
		if s.cfg.filter != nil && !s.cfg.filter(ctx, spec) {
			return next(ctx, req)
		}
		peer := req.Peer()
		var c *call
		if spec.IsClient {
			ctx, c = s.beginClient(ctx, spec, peer.Protocol, peer.Addr, headerCarrier(req.Header()))
		} else {
			ctx, c = s.beginServer(ctx, spec, peer.Protocol, peer.Addr, headerCarrier(req.Header()))
		}
		defer c.finishOnPanic()
		if s.wrapMessages {
			c.message(spec.IsClient, req.Any())
		}
		res, err := next(ctx, req)
		var resHeader http.Header
		if err == nil && res != nil {
			resHeader = res.Header()
			if s.wrapMessages {
				c.message(!spec.IsClient, res.Any())
			}
			if !spec.IsClient && s.cfg.propagateResponse {
				s.inject(ctx, c.span, headerCarrier(resHeader))
			}
		}
		c.finish(s.coding.outcome(err), err, nil, v1Header(resHeader))
		return res, err
	}
}

// WrapStreamingHandler records streaming calls on handlers.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		s := i.server
		spec := conn.Spec()
		if s.cfg.filter != nil && !s.cfg.filter(ctx, spec) {
			return next(ctx, conn)
		}
		peer := conn.Peer()
		ctx, c := s.beginServer(ctx, spec, peer.Protocol, peer.Addr, headerCarrier(conn.RequestHeader()))
		defer c.finishOnPanic()
		if s.cfg.propagateResponse {
			// As on unary calls: without a span of its own (no tracing),
			// the context's, the caller's, as connectrpc.com/otelconnect.
			s.inject(ctx, c.span, headerCarrier(conn.ResponseHeader()))
		}
		var err error
		if s.wrapMessages {
			err = next(ctx, &handlerConn{StreamingHandlerConn: conn, call: c})
		} else {
			// Without message observers, messages pass untouched: no
			// cost per message.
			err = next(ctx, conn)
		}
		c.finish(s.coding.outcome(err), err, nil, v1Header(conn.ResponseHeader()))
		return err
	}
}

// WrapStreamingClient records streaming calls on clients. A call ends at the
// first Receive error (io.EOF included), at CloseResponse, or when its
// context ends, whichever comes first; it is recorded exactly once. Its
// outcome is the last error of Send, CloseRequest or Receive other than
// io.EOF; a client-streaming call whose response stream has no message, or
// a second one, is UNIMPLEMENTED, as connect-go's CloseAndReceive fails it.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		s := i.client
		if s.cfg.filter != nil && !s.cfg.filter(ctx, spec) {
			return next(ctx, spec)
		}
		cc := &clientConn{}
		ctx = s.beginClientStream(ctx, spec, &cc.call)
		conn := next(ctx, spec)
		cc.StreamingClientConn = conn
		peer := conn.Peer()
		cc.call.bind(spec, peer.Protocol, peer.Addr, headerCarrier(conn.RequestHeader()))
		if ctx.Done() != nil {
			cc.stop = context.AfterFunc(ctx, cc.abandon)
		}
		return cc
	}
}

// handlerConn observes the messages of a handler stream.
type handlerConn struct {
	connect.StreamingHandlerConn
	call *call
}

func (h *handlerConn) Receive(msg any) error {
	err := h.StreamingHandlerConn.Receive(msg)
	if err == nil {
		h.call.message(false, msg)
	}
	return err
}

func (h *handlerConn) Send(msg any) error {
	err := h.StreamingHandlerConn.Send(msg)
	if err == nil {
		h.call.message(true, msg)
	}
	return err
}

// clientConn ends a client stream's recording.
type clientConn struct {
	connect.StreamingClientConn
	call call
	stop func() bool // stops watching the context, or nil
	// responses counts the responses of a client-streaming call, which
	// must have exactly one (see Receive).
	responses int
}

func (c *clientConn) Send(msg any) error {
	c.call.captureRequest(v1Header(c.RequestHeader()))
	err := c.StreamingClientConn.Send(msg)
	c.call.clientSent(msg, err)
	return err
}

// CloseRequest closes the request side, keeping its error as the call's:
// connect-go's CloseAndReceive returns it.
func (c *clientConn) CloseRequest() error {
	c.call.captureRequest(v1Header(c.RequestHeader()))
	err := c.StreamingClientConn.CloseRequest()
	c.call.setError(err)
	return err
}

// Errors of a client-streaming call whose response stream does not hold
// exactly one message, as connect-go's CloseAndReceive (receiveUnaryMessage)
// makes them outside the stream, where the interceptor cannot see them.
var (
	errZeroResponses     = connect.NewError(connect.CodeUnimplemented, errors.New("unary response has zero messages"))
	errMultipleResponses = connect.NewError(connect.CodeUnimplemented, errors.New("unary response has multiple messages"))
)

// Receive receives a response message and records it; its first error ends
// the call. A client-streaming call that ends with no response, or
// receives a second one, is recorded as connect-go's CloseAndReceive fails
// it: UNIMPLEMENTED (the gRPC status codes' "cardinality violation").
func (c *clientConn) Receive(msg any) error {
	err := c.StreamingClientConn.Receive(msg)
	if c.call.entry.spec.StreamType == connect.StreamTypeClient {
		switch {
		case err == nil:
			c.responses++
			if c.responses > 1 {
				c.call.setError(errMultipleResponses)
			}
		case errors.Is(err, io.EOF) && c.responses == 0:
			c.call.setError(errZeroResponses)
		}
	}
	if c.call.clientReceived(msg, err) || c.responses > 1 {
		c.end()
	}
	return err
}

func (c *clientConn) CloseResponse() error {
	err := c.StreamingClientConn.CloseResponse()
	c.end()
	return err
}

// end ends the call from the stream's own goroutine.
func (c *clientConn) end() {
	if c.call.ended.Load() {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	c.call.endOnce(true, v1Header(c.RequestHeader()), v1Header(c.ResponseHeader()))
}

// abandon ends the call when its context ends first.
func (c *clientConn) abandon() {
	c.call.endOnce(false, nil, nil)
}
