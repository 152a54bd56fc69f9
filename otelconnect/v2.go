package otelconnect

import (
	"context"
	"errors"
	"reflect"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
)

// This file is the connect-go v2 adapter (connectrpc.com/connect/v2). It
// only translates: v2 specs, headers, call info and errors into the
// recorder's terms (call.go), and v2 streams into its events. What a call
// records, and when, is decided there, for both majors.

// NewServerInterceptor returns a connect-go v2 [connectv2.ServerInterceptor]
// that records the calls a [connectv2.Server] serves, configured by
// options, as [NewInterceptor] records connect-go v1 handlers: one server
// span and one duration per call, unary or streaming, in every protocol,
// with the same names, attributes, status, events and metrics. Without
// options it uses the global providers and propagator of
// [go.opentelemetry.io/otel]. It fails only when an instrument cannot be
// created.
//
// The call's protocol, peer and headers come from its
// [connectv2.CallInfoForServerContext]. A call ends when the handler
// returns; with [WithPropagateResponseHeader] the trace context is set on
// the response header before the handler runs (connect-go v2 drops headers
// set after a Connect unary handler returns). As with v1, a failed unary
// call records no [WithTraceResponseHeader] attributes. Unlike v1, whose
// unary interceptors run after the request is decoded, a v2 server
// interceptor runs first, so a unary request that fails to decode is
// recorded too.
//
// It has the signature of the function of the same name in
// connectrpc.com/otelconnect v0.12.0.
func NewServerInterceptor(options ...Option) (connectv2.ServerInterceptor, error) {
	s, err := newSide(newConfig(options), false, codingV2Server)
	if err != nil {
		return nil, err
	}
	return func(next connectv2.ServerFunc) connectv2.ServerFunc {
		return func(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
			return s.serveV2(ctx, spec, stream, next)
		}
	}, nil
}

// NewClientInterceptor returns a connect-go v2 [connectv2.ClientInterceptor]
// that records the calls a [connectv2.Client] makes, configured by
// options, as [NewInterceptor] records connect-go v1 clients: one client
// span and one duration per call, with the trace context injected into the
// request header. Without options it uses the global providers and
// propagator of [go.opentelemetry.io/otel]. It fails only when an
// instrument cannot be created.
//
// A call ends at its stream's first Receive error (io.EOF included), at
// Close, or, for streaming calls, when its context ends, whichever comes
// first; it is recorded exactly once. A call whose stream cannot be opened
// is recorded with the error. Its outcome is the last error of Send,
// CloseSend, SendHeaders or Receive other than io.EOF.
//
// It has the signature of the function of the same name in
// connectrpc.com/otelconnect v0.12.0.
func NewClientInterceptor(options ...Option) (connectv2.ClientInterceptor, error) {
	s, err := newSide(newConfig(options), true, codingV2Client)
	if err != nil {
		return nil, err
	}
	return func(next connectv2.ClientFunc) connectv2.ClientFunc {
		return func(ctx context.Context, spec connectv2.Spec) (connectv2.ClientStream, error) {
			return s.openV2(ctx, spec, next)
		}
	}, nil
}

// serveV2 records one call a connect-go v2 handler serves.
func (s *side) serveV2(ctx context.Context, specV2 connectv2.Spec, stream connectv2.ServerStream, next connectv2.ServerFunc) error {
	spec := specToV1(specV2, false)
	if s.cfg.filter != nil && !s.cfg.filter(ctx, spec) {
		return next(ctx, specV2, stream)
	}
	info, ok := connectv2.CallInfoForServerContext(ctx)
	if !ok {
		info = &connectv2.CallInfo{}
	}
	ctx, c := s.beginServer(ctx, spec, info.Protocol, info.PeerAddr, (*v2Header)(info.RequestHeader()))
	defer c.finishOnPanic()
	responseHeader := (*v2Header)(info.ResponseHeader())
	if s.cfg.propagateResponse {
		// Without a span of its own (no tracing), the context's, as
		// connectrpc.com/otelconnect does.
		s.inject(ctx, c.span, responseHeader)
	}
	if s.wrapMessages {
		stream = &serverStreamV2{ServerStream: stream, call: c}
	}
	err := next(ctx, specV2, stream)
	var captured metadata = responseHeader
	if err != nil && spec.StreamType == connect.StreamTypeUnary {
		// As on v1, where a failed unary call has no response.
		captured = nil
	}
	c.finish(s.coding.outcome(err), err, nil, captured)
	return err
}

// openV2 records one call a connect-go v2 client makes.
func (s *side) openV2(ctx context.Context, specV2 connectv2.Spec, next connectv2.ClientFunc) (connectv2.ClientStream, error) {
	spec := specToV1(specV2, true)
	if s.cfg.filter != nil && !s.cfg.filter(ctx, spec) {
		return next(ctx, specV2)
	}
	info, ok := connectv2.CallInfoForClientContext(ctx)
	if !ok {
		ctx, info = connectv2.NewClientContext(ctx)
	}
	cs := &clientStreamV2{info: info, unary: spec.StreamType == connect.StreamTypeUnary}
	ctx = s.beginClientStream(ctx, spec, &cs.call)
	// The request header is sent with the first message (or SendHeaders):
	// the trace context goes in now, the protocol and peer are known once
	// the stream is open.
	s.inject(ctx, cs.call.span, (*v2Header)(info.RequestHeader()))
	stream, err := next(ctx, specV2)
	cs.call.bind(spec, info.Protocol, info.PeerAddr, nil)
	if err != nil {
		cs.call.setError(err)
		cs.call.endOnce(true, (*v2Header)(info.RequestHeader()), nil)
		return nil, err
	}
	cs.ClientStream = stream
	// connectv2.Client.CallUnary always ends a unary stream: only streams
	// may be abandoned to their context.
	if !cs.unary && ctx.Done() != nil {
		cs.stop = context.AfterFunc(ctx, cs.abandon)
	}
	return cs, nil
}

// serverStreamV2 observes the messages of a connect-go v2 handler stream.
type serverStreamV2 struct {
	connectv2.ServerStream
	call *call
}

// Receive receives a request message and records it.
func (s *serverStreamV2) Receive(msg any) error {
	err := s.ServerStream.Receive(msg)
	if err == nil {
		s.call.message(false, msg)
	}
	return err
}

// Send sends a response message and records it.
func (s *serverStreamV2) Send(msg any) error {
	err := s.ServerStream.Send(msg)
	if err == nil {
		s.call.message(true, msg)
	}
	return err
}

// clientStreamV2 records a connect-go v2 client stream, and ends its call.
type clientStreamV2 struct {
	connectv2.ClientStream
	call  call
	info  *connectv2.CallInfo
	unary bool
	stop  func() bool // stops watching the context, or nil
}

// SendHeaders sends the request header, keeping its error as the call's.
func (c *clientStreamV2) SendHeaders() error {
	c.call.captureRequest((*v2Header)(c.info.RequestHeader()))
	err := c.ClientStream.SendHeaders()
	c.call.setError(err)
	return err
}

// Send sends a request message and records it.
func (c *clientStreamV2) Send(msg any) error {
	c.call.captureRequest((*v2Header)(c.info.RequestHeader()))
	err := c.ClientStream.Send(msg)
	c.call.clientSent(msg, err)
	return err
}

// CloseSend closes the request side, keeping its error as the call's.
func (c *clientStreamV2) CloseSend() error {
	c.call.captureRequest((*v2Header)(c.info.RequestHeader()))
	err := c.ClientStream.CloseSend()
	c.call.setError(err)
	return err
}

// Receive receives a response message and records it; its first error
// ends the call.
func (c *clientStreamV2) Receive(msg any) error {
	err := c.ClientStream.Receive(msg)
	if c.call.clientReceived(msg, err) {
		c.end()
	}
	return err
}

// Close releases the stream and ends the call.
func (c *clientStreamV2) Close() error {
	err := c.ClientStream.Close()
	c.end()
	return err
}

// end ends the call from the stream's own goroutine.
func (c *clientStreamV2) end() {
	if c.call.ended.Load() {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	var response metadata = (*v2Header)(c.info.ResponseHeader())
	if c.unary && c.call.lastError() != nil {
		// As on v1, where a failed unary call has no response.
		response = nil
	}
	c.call.endOnce(true, (*v2Header)(c.info.RequestHeader()), response)
}

// abandon ends the call when its context ends first.
func (c *clientStreamV2) abandon() {
	c.call.endOnce(false, nil, nil)
}

// specToV1 converts a connect-go v2 spec to the v1 spec the recorder and
// the filters take.
func specToV1(spec connectv2.Spec, isClient bool) connect.Spec {
	return connect.Spec{
		StreamType:       connect.StreamType(spec.StreamType),
		Schema:           spec.Schema,
		Procedure:        spec.Procedure,
		IsClient:         isClient,
		IdempotencyLevel: connect.IdempotencyLevel(spec.IdempotencyLevel),
	}
}

// specToV2 converts a v1 spec to a connect-go v2 one, for v2 filters.
func specToV2(spec connect.Spec) connectv2.Spec {
	return connectv2.Spec{
		StreamType:       connectv2.StreamType(spec.StreamType),
		IdempotencyLevel: connectv2.IdempotencyLevel(spec.IdempotencyLevel),
		Schema:           spec.Schema,
		Procedure:        spec.Procedure,
	}
}

// errorStringType is the type of errors.New's errors.
var errorStringType = reflect.TypeOf(errors.New(""))

// isNotModifiedV2 reports whether err is connect-go v2's "not modified"
// sentinel: connecthttp.NewNotModifiedError on handlers, and what
// connecthttp.IsNotModifiedError finds on clients. Both are a
// [connectv2.CodeUnknown] error caused by an errors.New("not modified"),
// which connecthttp keeps unexported; finding it without importing
// connecthttp keeps the HTTP transport out of this package's dependencies
// (TestNotModifiedV2Sentinel checks both against connecthttp).
func isNotModifiedV2(err error) bool {
	e, ok := errors.AsType[*connectv2.Error](err)
	if !ok || e == nil || e.Code() != connectv2.CodeUnknown {
		return false
	}
	for cause := errors.Unwrap(e); cause != nil; cause = errors.Unwrap(cause) {
		if reflect.TypeOf(cause) == errorStringType && cause.Error() == "not modified" {
			return true
		}
	}
	return false
}

// v2Header is a connect-go v2 header, as the recorder's metadata and a
// propagation carrier. Keys are canonicalized by connect-go.
type v2Header connectv2.Header

var _ metadata = (*v2Header)(nil)

func (h *v2Header) header() *connectv2.Header { return (*connectv2.Header)(h) }

// Get returns the first value of key.
func (h *v2Header) Get(key string) string { return h.header().Get(key) }

// Values returns every value of key.
func (h *v2Header) Values(key string) []string { return h.header().Values(key) }

// Set replaces the values of key.
func (h *v2Header) Set(key, value string) { h.header().Set(key, value) }

// Keys lists the header's keys.
func (h *v2Header) Keys() []string {
	keys := make([]string, 0, h.header().Len())
	for key := range h.header().All() {
		keys = append(keys, key)
	}
	return keys
}

func (h *v2Header) canonicalValues(key string) []string { return h.header().Values(key) }

func (h *v2Header) setCanonical(key string, values []string) { h.header().SetValues(key, values) }
