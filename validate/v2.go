// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
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
// stream is canceled at once and its request stream is not closed
// cleanly, so that the server does not take what it got for the whole
// stream (see the package documentation for the limits of this
// guarantee). The stream is released without waiting for Close; Close
// still unblocks a pending Receive.
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
			s := &clientStream{config: cfg, ctx: ctx, procedure: spec.Procedure, schema: spec.Schema}
			if spec.StreamType != connect.StreamTypeUnary {
				// A stream may already be on the wire when a message fails:
				// it then has to be canceled. (A unary request is one
				// message: if it fails, nothing has been sent.)
				ctx, s.cancel = context.WithCancel(ctx)
				ctx = s.wire.trace(ctx)
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
// on another, hence the atomics and the lock.
type clientStream struct {
	connect.ClientStream

	config    *config
	ctx       context.Context
	procedure string
	schema    any                // the Spec's, to decode what closeResponse drains
	cancel    context.CancelFunc // nil for unary calls
	wire      wire               // what net/http did, when cancel is set
	opened    atomic.Bool        // headers or a request reached the inner stream
	responded atomic.Bool        // a response message arrived
	inReceive atomic.Bool        // a Receive is inside the inner stream
	failed    atomic.Pointer[connect.Error]

	// receiving is held while the inner stream's receive side is in use,
	// by Receive or by release, which both use the inner Receive: connect-go
	// allows only one at a time.
	receiving sync.Mutex
	released  bool // release has run; guarded by receiving
	sample    any  // the caller's last Receive message; guarded by receiving
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
		return c.fail(rejectV2(c.ctx, c.config, c.procedure, true, false, msg, v), false)
	}
	c.opened.Store(true)
	return c.ClientStream.Send(msg)
}

// fail records err as the outcome of the call. A stream is canceled: if
// it is on the wire, that ends it abnormally, so that the server does not
// take what it got for the whole stream; if not, it only releases the
// context. The canceled stream is then released (see release) as soon as
// its receive side is free: at once, or when a pending Receive returns.
// locked is true when the caller holds c.receiving.
func (c *clientStream) fail(err *connect.Error, locked bool) error {
	if !c.failed.CompareAndSwap(nil, err) {
		return c.failed.Load()
	}
	if c.cancel != nil {
		c.cancel()
		if locked {
			c.release()
		} else if c.receiving.TryLock() {
			c.release()
			c.receiving.Unlock()
		} else {
			// A Receive is pending: it releases the stream when it
			// returns, if it returns (see unblockReceive).
			c.unblockReceive()
		}
	}
	return err
}

// unblockReceive makes a Receive pending in the inner stream of a failed,
// canceled stream return. The cancellation does that, unless the Receive
// was already reading the response over HTTP/2, where net/http ignores the
// cancellation: then only the inner Close unblocks it, and that closes the
// request before the response, so that the request stream may end cleanly
// (a limit the package documentation gives). Waiting for the caller's
// Close instead could wait for ever: a caller whose receiving goroutine is
// blocked may never get to it. Receive sets inReceive before it checks
// failed, and fail stores failed before this loads inReceive, so one of
// them sees the other.
func (c *clientStream) unblockReceive() {
	if c.inReceive.Load() && !c.wire.cancelUnblocksReceive() {
		_ = c.ClientStream.Close()
	}
}

// release lets go of a failed, canceled stream on the wire without ending
// its request stream cleanly; c.receiving is held. It closes the response
// side first (see closeResponse), then the rest as wire.release says.
func (c *clientStream) release() {
	if c.released || c.cancel == nil || !c.opened.Load() {
		return
	}
	c.released = true
	c.closeResponse()
	c.wire.release(c.responded.Load(),
		func() {
			c.receiving.Lock() // free: the stream is released
			c.closeResponse()
			c.receiving.Unlock()
		},
		func() { _ = c.ClientStream.Close() },
	)
}

// closeResponse closes the response side of a canceled stream, if
// connect-go has a response; c.receiving is held. connect-go v2 has no way
// to do that but a Receive: canceled, it fails at once, and connect-go then
// closes the response, which makes net/http act on the cancellation. With
// the Connect protocol, though, a Receive that fails with a response in
// closes the request first: over HTTP/2 the request stream may then end
// cleanly, and nothing here can prevent it.
//
// Messages already at hand may come first; past maxDrained of them (a
// stream that ignores its context, as a fake may) the stream is closed
// instead.
func (c *clientStream) closeResponse() {
	discard := c.newResponse()
	for range maxDrained {
		if c.ClientStream.Receive(discard) != nil {
			return
		}
	}
	_ = c.ClientStream.Close()
}

// maxDrained bounds the messages closeResponse reads from a canceled
// stream.
const maxDrained = 64

// newResponse returns a message for closeResponse to drain into, of the
// response type (a transport may insist on the type, as connectinprocess's
// proto.Merge does): a new one of the type the caller's Receive used, or
// from the Spec's schema, else an Empty.
func (c *clientStream) newResponse() any {
	if m, ok := c.sample.(proto.Message); ok {
		return m.ProtoReflect().New().Interface()
	}
	if md, ok := c.schema.(protoreflect.MethodDescriptor); ok {
		return dynamicpb.NewMessage(md.Output())
	}
	return &emptypb.Empty{}
}

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
	c.receiving.Lock()
	defer c.receiving.Unlock()
	if err := c.failed.Load(); err != nil {
		c.release() // unless done already
		return err
	}
	c.opened.Store(true) // the first Receive opens the stream
	c.sample = msg
	c.inReceive.Store(true)
	if failed := c.failed.Load(); failed != nil { // failed meanwhile (see unblockReceive)
		c.inReceive.Store(false)
		c.release()
		return failed
	}
	err := c.ClientStream.Receive(msg)
	c.inReceive.Store(false)
	if failed := c.failed.Load(); failed != nil && err == nil {
		// The call failed while this Receive was pending, and a message
		// came anyway: the call is over all the same.
		c.release()
		return failed
	}
	if err != nil {
		// The response is over (io.EOF or an error) and the transport has
		// released the stream; release the context too.
		if c.cancel != nil {
			c.cancel()
		}
		if failed := c.failed.Load(); failed != nil {
			c.release() // the call failed while this Receive was pending
			return failed
		}
		return err
	}
	c.responded.Store(true)
	if v := c.config.checkResponse(msg); !v.ok() {
		return c.fail(rejectV2(c.ctx, c.config, c.procedure, true, true, msg, v), true)
	}
	return nil
}

func (c *clientStream) Close() error {
	if c.failed.Load() == nil {
		err := c.ClientStream.Close()
		if c.cancel != nil {
			c.cancel()
		}
		return err
	}
	if c.cancel == nil {
		if c.opened.Load() {
			// An invalid unary response: the request was complete.
			return c.ClientStream.Close()
		}
		return nil // nothing went on the wire
	}
	c.cancel() // fail may not have come to it yet
	if c.receiving.TryLock() {
		c.release() // unless done already, or nothing went on the wire
		c.receiving.Unlock()
		return nil
	}
	// The receive side is busy, with release or with a Receive, which
	// releases the stream when it returns.
	c.unblockReceive()
	return nil
}
