// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"
	"sync/atomic"
	"time"

	"connectrpc.com/connect/v2"
)

// This file is the connect-go v2 adapter: it wraps v2 streams and turns
// verdicts into v2 errors. What to check, and what a failure means, is
// decided in policy.go, as for the v1 adapter in interceptor.go.

// NewServerInterceptor returns a connect-go v2 [connect.ServerInterceptor]
// (connectrpc.com/connect/v2) configured by opts, with the behaviour
// [NewInterceptor] has on connect-go v1 handlers: every request message,
// of unary calls and of client, server and bidi streams, is validated when
// it is received, before the handler sees it, and an invalid one makes
// Receive fail with [connect.CodeInvalidArgument] and a
// buf.validate.Violations detail, which the handler normally returns. With
// [WithValidateResponses], every message sent is validated too, and an
// invalid one fails Send with [connect.CodeInternal]. A broken rule or a
// message that is not a Protobuf message is [connect.CodeInternal].
//
// It has the signature of the function of the same name in
// connectrpc.com/validate v0.9.0.
func NewServerInterceptor(opts ...Option) connect.ServerInterceptor {
	cfg := newConfig(opts)
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if cfg.skipsProcedure(spec.Procedure) {
				return next(ctx, spec, stream)
			}
			return next(ctx, spec, &serverStream{ServerStream: stream, config: cfg, ctx: ctx, procedure: spec.Procedure})
		}
	}
}

// NewClientInterceptor returns a connect-go v2 [connect.ClientInterceptor]
// (connectrpc.com/connect/v2) configured by opts, with the behaviour
// [NewInterceptor] has on connect-go v1 clients: every request message is
// validated before it is sent, and an invalid one fails Send with
// [connect.CodeInvalidArgument] and a buf.validate.Violations detail. With
// [WithValidateResponses], every message received is validated too, and an
// invalid one fails Receive with [connect.CodeInternal].
//
// Once a message fails, the call has failed: later Sends and Receives
// return the same error. If no message (and no header) had been sent, no
// request is made at all, CloseSend and Close included; otherwise the
// stream is canceled at once, so that the server does not take what it got
// for the whole stream, and released shortly after in the background.
//
// It has the signature of the function of the same name in
// connectrpc.com/validate v0.9.0.
func NewClientInterceptor(opts ...Option) connect.ClientInterceptor {
	cfg := newConfig(opts)
	return func(next connect.ClientFunc) connect.ClientFunc {
		return func(ctx context.Context, spec connect.Spec) (connect.ClientStream, error) {
			if cfg.skipsProcedure(spec.Procedure) {
				return next(ctx, spec)
			}
			s := &clientStream{config: cfg, ctx: ctx, procedure: spec.Procedure}
			if spec.StreamType != connect.StreamTypeUnary {
				// A stream may already be on the wire when a message fails:
				// it then has to be canceled. (A unary request is one
				// message: if it fails, nothing has been sent.)
				ctx, s.cancel = context.WithCancel(ctx)
			}
			stream, err := next(ctx, spec)
			if err != nil {
				if s.cancel != nil {
					s.cancel()
				}
				return nil, err
			}
			s.ClientStream = stream
			return s, nil
		}
	}
}

// rejectV2 turns a failed verdict into a connect-go v2 error, after telling
// the hook.
func rejectV2(ctx context.Context, cfg *config, procedure string, client, response bool, msg any, v verdict) *connect.Error {
	err := connect.NewError(connect.Code(v.code), v.err.Error()).WithCause(v.err)
	if value := cfg.rejection(ctx, procedure, client, response, msg, v); value != nil {
		err = err.WithDetail(&connect.ErrorDetail{Type: violationsTypeName, Value: value})
	}
	return err
}

// serverStream validates the messages of a handler's stream.
type serverStream struct {
	connect.ServerStream

	config    *config
	ctx       context.Context
	procedure string
}

func (s *serverStream) Receive(msg any) error {
	if err := s.ServerStream.Receive(msg); err != nil {
		return err
	}
	if v := s.config.checkRequest(msg); !v.ok() {
		return rejectV2(s.ctx, s.config, s.procedure, false, false, msg, v)
	}
	return nil
}

func (s *serverStream) Send(msg any) error {
	if v := s.config.checkResponse(msg); !v.ok() {
		return rejectV2(s.ctx, s.config, s.procedure, false, true, msg, v)
	}
	return s.ServerStream.Send(msg)
}

// clientStream validates the messages of a client's stream. Send,
// SendHeaders and CloseSend run on one goroutine, Receive and Close perhaps
// on another, hence the atomics.
type clientStream struct {
	connect.ClientStream

	config    *config
	ctx       context.Context
	procedure string
	cancel    context.CancelFunc // nil for unary calls
	opened    atomic.Bool        // headers or a request reached the inner stream
	failed    atomic.Pointer[connect.Error]
}

func (c *clientStream) SendHeaders() error {
	if err := c.failed.Load(); err != nil {
		return err
	}
	c.opened.Store(true)
	return c.ClientStream.SendHeaders()
}

func (c *clientStream) Send(msg any) error {
	if err := c.failed.Load(); err != nil {
		return err
	}
	if v := c.config.checkRequest(msg); !v.ok() {
		return c.fail(rejectV2(c.ctx, c.config, c.procedure, true, false, msg, v))
	}
	c.opened.Store(true)
	return c.ClientStream.Send(msg)
}

// fail records err as the outcome of the call. A stream is canceled: if
// it is on the wire, that ends it abnormally, so that the server does not
// take what it got for the whole stream; if not, it only releases the
// context. A canceled stream on the wire is then closed after
// releaseDelay, in the background: the HTTP/1.1 transport needs the
// request body closed to let go of the connection even after the
// cancellation, and closing it before the transport has acted on the
// cancellation would end the request stream cleanly.
func (c *clientStream) fail(err *connect.Error) error {
	if !c.failed.CompareAndSwap(nil, err) {
		return c.failed.Load()
	}
	if c.cancel != nil {
		c.cancel()
		if c.opened.Load() {
			time.AfterFunc(releaseDelay, func() { _ = c.ClientStream.Close() })
		}
	}
	return err
}

// releaseDelay is how long a canceled client stream stays open so that
// the transport acts on the cancellation before the request body ends.
const releaseDelay = 100 * time.Millisecond

func (c *clientStream) CloseSend() error {
	if c.failed.Load() != nil {
		// Either nothing went on the wire, or the call is canceled: a clean
		// end of the request stream would let the server take what it got
		// for the whole stream, and closing an unopened stream would send
		// an empty request.
		return nil
	}
	return c.ClientStream.CloseSend()
}

func (c *clientStream) Receive(msg any) error {
	if err := c.failed.Load(); err != nil {
		return err
	}
	c.opened.Store(true) // the first Receive opens the stream
	if err := c.ClientStream.Receive(msg); err != nil {
		// The response is over (io.EOF or an error) and the transport has
		// released the stream; release the context too.
		if c.cancel != nil {
			c.cancel()
		}
		return err
	}
	if v := c.config.checkResponse(msg); !v.ok() {
		return c.fail(rejectV2(c.ctx, c.config, c.procedure, true, true, msg, v))
	}
	return nil
}

func (c *clientStream) Close() error {
	if c.failed.Load() != nil {
		if c.cancel == nil && c.opened.Load() {
			// An invalid unary response: the request was complete.
			return c.ClientStream.Close()
		}
		// Either nothing went on the wire (and closing the inner stream
		// would send an empty request), or the stream is canceled and
		// about to be released (see fail).
		return nil
	}
	err := c.ClientStream.Close()
	if c.cancel != nil {
		c.cancel()
	}
	return err
}
