// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"
	"sync/atomic"

	"connectrpc.com/connect"
)

// Interceptor is a connect-go [connect.Interceptor] that validates messages
// against the protovalidate rules in their schemas. Add it to handlers with
// [connect.WithInterceptors]; it works on clients too. See the package
// documentation for what is validated and which codes failures get.
//
// An Interceptor is immutable and safe for concurrent use. Rules are
// compiled by the validator, lazily and once per message type with the
// default [protovalidate.GlobalValidator].
type Interceptor struct {
	config *config
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an Interceptor configured by opts. With no options
// it validates requests with [protovalidate.GlobalValidator] and attaches a
// buf.validate.Violations detail to validation errors.
func NewInterceptor(opts ...Option) *Interceptor {
	return &Interceptor{config: newConfig(opts)}
}

// WrapUnary implements [connect.Interceptor]. On a handler it validates the
// request before the handler runs; on a client it validates the request
// before it is sent, so an invalid request never leaves the process. The
// response is validated after next returns when [WithValidateResponses] is
// set.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		cfg := i.config
		if len(cfg.ignoreProcedures) > 0 && cfg.skipsProcedure(req.Spec().Procedure) {
			return next(ctx, req)
		}
		msg := req.Any()
		if v := cfg.checkRequest(msg); !v.ok() {
			return nil, i.reject(ctx, req.Spec(), msg, v, false)
		}
		res, err := next(ctx, req)
		if err != nil || !cfg.validateResponses || res == nil {
			return res, err
		}
		msg = res.Any()
		if v := cfg.checkResponse(msg); !v.ok() {
			return res, i.reject(ctx, req.Spec(), msg, v, true)
		}
		return res, nil
	}
}

// WrapStreamingClient implements [connect.Interceptor]. Every message sent
// is validated before it reaches the network, and with
// [WithValidateResponses] every message received. Once a message fails,
// the call has failed: later Sends and Receives return the same error. If
// nothing had been sent yet, nothing is sent at all, closing included; if
// earlier messages of a client or bidi stream were already sent, the call
// is canceled and its request stream is never closed cleanly, so that the
// server does not take the truncated stream for a complete one: the
// server's stream ends in an error. CloseResponse must still be called, as
// connect-go requires: it releases the stream (see the package
// documentation for the limits of this guarantee).
//
// connectrpc.com/validate only fails the one Send, and for a server stream
// still sends an empty request when the stream is closed.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		if i.config.skipsProcedure(spec.Procedure) {
			return next(ctx, spec)
		}
		conn := &clientConn{interceptor: i, ctx: ctx}
		if spec.StreamType&connect.StreamTypeClient != 0 {
			// Only streams that send several messages can fail half-way.
			ctx, conn.cancel = context.WithCancel(ctx)
			ctx = conn.wire.trace(ctx)
		}
		conn.StreamingClientConn = next(ctx, spec)
		return conn
	}
}

// WrapStreamingHandler implements [connect.Interceptor]. Every message
// received is validated before the handler sees it; an invalid one makes
// Receive return an InvalidArgument error, which the handler normally
// returns. Sent messages are validated with [WithValidateResponses].
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if len(i.config.ignoreProcedures) > 0 && i.config.skipsProcedure(conn.Spec().Procedure) {
			return next(ctx, conn)
		}
		return next(ctx, &handlerConn{StreamingHandlerConn: conn, interceptor: i, ctx: ctx})
	}
}

// reject turns a failed verdict into a *connect.Error, after telling the
// hook (see config.rejection, shared with the connect-go v2 adapter).
func (i *Interceptor) reject(ctx context.Context, spec connect.Spec, msg any, v verdict, response bool) *connect.Error {
	err := connect.NewError(connect.Code(v.code), v.err)
	if value := i.config.rejection(ctx, spec.Procedure, spec.IsClient, response, msg, v); value != nil {
		if detail, detailErr := violationsDetail(value); detailErr == nil {
			err.AddDetail(detail)
		}
	}
	return err
}

// clientConn validates the messages of a client's stream. Send and
// CloseRequest run on one goroutine, Receive and CloseResponse perhaps on
// another, hence the atomics.
type clientConn struct {
	connect.StreamingClientConn

	interceptor *Interceptor
	ctx         context.Context
	cancel      context.CancelFunc // nil unless the client sends a stream
	wire        wire               // what net/http did, when cancel is set
	sent        atomic.Bool        // a request reached the inner conn
	responded   atomic.Bool        // a response message arrived
	inReceive   atomic.Bool        // a Receive is inside the inner conn, when cancel is set
	failed      atomic.Pointer[connect.Error]
}

func (c *clientConn) Send(msg any) error {
	if err := c.failed.Load(); err != nil {
		return err
	}
	if v := c.interceptor.config.checkRequest(msg); !v.ok() {
		return c.fail(c.interceptor.reject(c.ctx, c.Spec(), msg, v, false))
	}
	c.sent.Store(true)
	return c.StreamingClientConn.Send(msg)
}

// fail records err as the outcome of the call and, if requests already
// went out, cancels the call so the server sees it end abnormally.
//
// A Receive pending on another goroutine must then return, or a caller
// that waits for its receiving goroutine before it calls CloseResponse (the
// only goroutine connect-go lets call it) waits for ever. The cancellation
// unblocks it, except over HTTP/2 once the response has started, where
// net/http ignores it until the response body is closed: then the response
// is closed here, which aborts the stream. Receive sets inReceive before it
// checks failed, and fail stores failed before it loads inReceive, so one
// of them sees the other.
func (c *clientConn) fail(err *connect.Error) error {
	c.failed.CompareAndSwap(nil, err)
	if c.sent.Load() && c.cancel != nil {
		c.cancel()
		if c.inReceive.Load() && c.wire.http2.Load() && c.wire.response.Load() {
			_ = c.StreamingClientConn.CloseResponse()
		}
	}
	return err
}

func (c *clientConn) CloseRequest() error {
	if c.failed.Load() != nil {
		// Either nothing went on the wire, or the call is canceled and
		// CloseResponse closes the request when that cannot end it
		// cleanly (see wire.release).
		return nil
	}
	return c.StreamingClientConn.CloseRequest()
}

func (c *clientConn) Receive(msg any) error {
	if err := c.failed.Load(); err != nil {
		return err
	}
	if c.cancel == nil {
		if err := c.StreamingClientConn.Receive(msg); err != nil {
			return err
		}
		c.responded.Store(true)
		return c.checkReceived(msg)
	}
	// The call may fail while this Receive is pending (see fail): it then
	// returns the call's failure, not the cancellation's error nor a
	// message that came anyway.
	c.inReceive.Store(true)
	if failed := c.failed.Load(); failed != nil {
		c.inReceive.Store(false)
		return failed
	}
	err := c.StreamingClientConn.Receive(msg)
	c.inReceive.Store(false)
	if err == nil {
		c.responded.Store(true)
	}
	if failed := c.failed.Load(); failed != nil {
		return failed
	}
	if err != nil {
		return err
	}
	return c.checkReceived(msg)
}

// checkReceived validates a response message when responses are validated.
func (c *clientConn) checkReceived(msg any) error {
	if v := c.interceptor.config.checkResponse(msg); !v.ok() {
		return c.fail(c.interceptor.reject(c.ctx, c.Spec(), msg, v, true))
	}
	return nil
}

func (c *clientConn) CloseResponse() error {
	if c.failed.Load() != nil {
		if !c.sent.Load() {
			if c.cancel != nil {
				c.cancel()
			}
			return nil // nothing went on the wire
		}
		if c.cancel != nil {
			// The stream was canceled when it failed. Closing the response
			// first makes net/http act on the cancellation even where it
			// would not (HTTP/2 once the response is in); the request
			// side goes last, when that cannot end it cleanly.
			err := c.StreamingClientConn.CloseResponse()
			c.wire.release(c.responded.Load(),
				func() { _ = c.StreamingClientConn.CloseResponse() },
				func() { _ = c.StreamingClientConn.CloseRequest() },
			)
			return err
		}
	}
	err := c.StreamingClientConn.CloseResponse()
	if c.cancel != nil {
		c.cancel()
	}
	return err
}

// handlerConn validates the messages of a handler's stream.
type handlerConn struct {
	connect.StreamingHandlerConn

	interceptor *Interceptor
	ctx         context.Context
}

func (h *handlerConn) Receive(msg any) error {
	if err := h.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	if v := h.interceptor.config.checkRequest(msg); !v.ok() {
		return h.interceptor.reject(h.ctx, h.Spec(), msg, v, false)
	}
	return nil
}

func (h *handlerConn) Send(msg any) error {
	if v := h.interceptor.config.checkResponse(msg); !v.ok() {
		return h.interceptor.reject(h.ctx, h.Spec(), msg, v, true)
	}
	return h.StreamingHandlerConn.Send(msg)
}
