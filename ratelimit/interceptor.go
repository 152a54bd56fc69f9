package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
)

// Interceptor is a connect.Interceptor that rate-limits calls.
//
// On handlers it limits unary calls and streams of every kind when they
// open, before the handler runs; with [WithMessageLimiter] it also limits
// each message a stream receives. A rejection is a ResourceExhausted error
// carrying a google.rpc.RetryInfo detail, with the Retry-After, RateLimit
// and RateLimit-Policy fields in the response's header section (never in
// trailers, where gRPC and Connect streaming send an error's metadata and
// where the httpapi draft forbids them). A stream that has already sent its
// headers when a message is rejected gets only the RetryInfo detail.
//
// On clients it smooths outgoing calls: a call (or stream, when it first
// sends) that its limiter denies waits until it is allowed or its context
// ends; with [WithClientNoWait] it fails at once instead.
type Interceptor struct {
	g *guard
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor that limits calls with limiter
// (unless [WithProcedureLimiter] says otherwise).
func NewInterceptor(limiter Limiter, opts ...Option) *Interceptor {
	return &Interceptor{g: newGuard(limiter, opts)}
}

// Stats returns the counts of the interceptor's decisions so far.
func (i *Interceptor) Stats() Stats { return i.g.stats() }

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	g := i.g
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		// An allowed call (or one with no key) goes on at once on handlers
		// and clients alike, so the quick path needs neither the side nor,
		// without per-procedure limiters, the procedure: it runs before
		// req.Spec(), which costs as much as the rest of it.
		var at time.Time
		if g.cfg.procedures == nil {
			var ok bool
			if _, at, ok = g.quick(ctx, req.Header(), g.limiter); ok {
				return next(ctx, req)
			}
		}
		spec := req.Spec()
		lim := g.limiterFor(spec.Procedure)
		if lim == nil {
			return next(ctx, req)
		}
		s := g.get()
		s.at = at
		s.call = Call{
			Context:    ctx,
			Procedure:  spec.Procedure,
			StreamType: spec.StreamType,
			peerFrom:   req,
			Header:     req.Header(),
			IsClient:   spec.IsClient,
		}
		if spec.IsClient {
			err := g.wait(s, lim, g.cost(&s.call))
			g.put(s)
			if err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
		out := g.decide(s, lim, g.cost(&s.call))
		if out == outcomeUnlimited || out == outcomeAllowed && !g.cfg.allowedHeaders {
			g.put(s)
			return next(ctx, req)
		}
		d := s.d
		g.put(s)
		header := handlerResponseHeader(ctx)
		if out != outcomeAllowed {
			return nil, handlerRejection(d, out, header)
		}
		if header != nil {
			setHeaders(header, d, false)
			return next(ctx, req)
		}
		res, err := next(ctx, req)
		if err != nil {
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				setHeaders(cerr.Meta(), d, false)
			}
		} else if res != nil {
			setHeaders(res.Header(), d, false)
		}
		return res, err
	}
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	g := i.g
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		spec := conn.Spec()
		lim := g.limiterFor(spec.Procedure)
		if lim == nil && g.cfg.messages == nil {
			return next(ctx, conn)
		}
		var at time.Time
		if g.cfg.messages == nil {
			var ok bool
			if _, at, ok = g.quick(ctx, conn.RequestHeader(), lim); ok {
				return next(ctx, conn)
			}
		}
		call := Call{
			Context:    ctx,
			Procedure:  spec.Procedure,
			StreamType: spec.StreamType,
			peerFrom:   conn,
			Header:     conn.RequestHeader(),
		}
		s := g.get()
		s.at = at
		s.call = call
		out := g.decide(s, lim, g.cost(&s.call))
		d := s.d
		g.put(s)
		switch out {
		case outcomeRejected, outcomeUnavailable:
			return handlerRejection(d, out, conn.ResponseHeader())
		case outcomeAllowed:
			if g.cfg.allowedHeaders {
				setHeaders(conn.ResponseHeader(), d, false)
			}
		}
		if g.cfg.messages != nil {
			conn = &handlerConn{StreamingHandlerConn: conn, g: g, call: call}
		}
		return next(ctx, conn)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	g := i.g
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		lim := g.limiterFor(spec.Procedure)
		if lim == nil && g.cfg.messages == nil {
			return conn
		}
		return &clientConn{StreamingClientConn: conn, g: g, ctx: ctx, lim: lim}
	}
}

// handlerRejection returns the error for a rejected handler call, and
// writes Retry-After, RateLimit and RateLimit-Policy to header, the
// response's header section. They do not go in the error's metadata, which
// gRPC and Connect streaming send as trailers, where the httpapi draft
// forbids the RateLimit fields; only when there is no header section to
// write to (header is nil) do they go there.
func handlerRejection(d Decision, out outcome, header http.Header) *connect.Error {
	err := rejection(d, out)
	if header == nil {
		header = err.Meta()
	}
	if out == outcomeRejected {
		setHeaders(header, d, true)
	} else if d.RetryAfter > 0 {
		header.Set(HeaderRetryAfter, strconv.FormatInt(RetryAfterSeconds(d), 10))
	}
	return err
}

// handlerResponseHeader returns the response header of the unary handler
// call ctx belongs to, or nil when ctx is not a handler's.
func handlerResponseHeader(ctx context.Context) http.Header {
	if info, ok := connect.CallInfoForHandlerContext(ctx); ok {
		return info.ResponseHeader()
	}
	return nil
}

// wait asks lim for n tokens until it allows them, sleeping as long as each
// denial says, or fails when the context ends, the limiter fails closed, the
// cost can never be met or the interceptor does not wait.
func (g *guard) wait(s *scratch, lim Limiter, n int) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		out := g.decide(s, lim, n)
		d := s.d
		switch out {
		case outcomeUnlimited, outcomeAllowed:
			return nil
		case outcomeUnavailable:
			if err := s.call.Context.Err(); err != nil {
				// The limiter failed because the call's context ended.
				return contextError(err)
			}
			return rejection(d, out)
		}
		if g.cfg.clientNoWait || n > d.Policy.Burst {
			return rejection(d, out)
		}
		delay := max(d.RetryAfter, time.Millisecond)
		if timer == nil {
			timer = time.NewTimer(delay)
		} else {
			timer.Reset(delay)
		}
		ctx := s.call.Context
		select {
		case <-ctx.Done():
			return contextError(ctx.Err())
		case <-timer.C:
		}
	}
}

// contextError is the error for a call whose context ended with err.
func contextError(err error) *connect.Error {
	code := connect.CodeCanceled
	if errors.Is(err, context.DeadlineExceeded) {
		code = connect.CodeDeadlineExceeded
	}
	return connect.NewError(code, err)
}

// handlerConn limits the messages a handler receives.
type handlerConn struct {
	connect.StreamingHandlerConn
	g    *guard
	call Call
}

// Receive spends a token for each message received: the end of the stream
// (or a failure to receive) spends none. A rejection is only the error,
// with its RetryInfo detail: Receive may run while another goroutine sends,
// so it must not touch the response headers, which may be on the wire by
// then anyway.
func (c *handlerConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	s := c.g.get()
	s.call = c.call
	out := c.g.decide(s, c.g.cfg.messages, 1)
	d := s.d
	c.g.put(s)
	if out == outcomeRejected || out == outcomeUnavailable {
		return rejection(d, out)
	}
	return nil
}

// clientConn waits for the limiter before a client stream first sends (when
// its request headers are final), and before each message with
// WithMessageLimiter.
type clientConn struct {
	connect.StreamingClientConn
	g   *guard
	ctx context.Context
	lim Limiter

	once    sync.Once
	openErr error
	failed  atomic.Bool
}

func (c *clientConn) call() Call {
	spec := c.Spec()
	return Call{
		Context:    c.ctx,
		Procedure:  spec.Procedure,
		StreamType: spec.StreamType,
		peerFrom:   c.StreamingClientConn,
		Header:     c.RequestHeader(),
		IsClient:   true,
	}
}

func (c *clientConn) open() error {
	c.once.Do(func() {
		if c.lim == nil {
			return
		}
		s := c.g.get()
		s.call = c.call()
		c.openErr = c.g.wait(s, c.lim, c.g.cost(&s.call))
		c.g.put(s)
		c.failed.Store(c.openErr != nil)
	})
	return c.openErr
}

func (c *clientConn) Send(msg any) error {
	if err := c.open(); err != nil {
		return err
	}
	if c.g.cfg.messages != nil {
		s := c.g.get()
		s.call = c.call()
		err := c.g.wait(s, c.g.cfg.messages, 1)
		c.g.put(s)
		if err != nil {
			return err
		}
	}
	return c.StreamingClientConn.Send(msg)
}

func (c *clientConn) CloseRequest() error {
	if err := c.open(); err != nil {
		return err
	}
	return c.StreamingClientConn.CloseRequest()
}

func (c *clientConn) Receive(msg any) error {
	if err := c.open(); err != nil {
		return err
	}
	return c.StreamingClientConn.Receive(msg)
}

func (c *clientConn) CloseResponse() error {
	if c.failed.Load() {
		// Nothing was sent, so there is no response to wait for.
		return nil
	}
	return c.StreamingClientConn.CloseResponse()
}

func (c *clientConn) ResponseHeader() http.Header {
	if c.failed.Load() {
		return http.Header{}
	}
	return c.StreamingClientConn.ResponseHeader()
}

func (c *clientConn) ResponseTrailer() http.Header {
	if c.failed.Load() {
		return http.Header{}
	}
	return c.StreamingClientConn.ResponseTrailer()
}
