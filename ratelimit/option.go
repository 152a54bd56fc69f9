package ratelimit

import (
	"context"
	"strings"
	"time"
)

// Option configures a [Middleware] or an [Interceptor].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	key            Key
	procedures     map[string]Limiter
	allowedHeaders bool
	dryRun         bool
	onReject       func(ctx context.Context, call *Call, d Decision)
	onError        func(ctx context.Context, call *Call, err error)
	now            func() time.Time
	cost           func(call *Call) int
	messages       Limiter
	clientNoWait   bool
}

// WithKey sets how calls are keyed (default [KeyIP] with no trusted
// proxies: the connection's peer address).
func WithKey(key Key) Option {
	return optionFunc(func(c *config) {
		if key != nil {
			c.key = key
		}
	})
}

// WithProcedureLimiter limits calls to procedure (such as
// "/acme.foo.v1.FooService/Bar"; the leading slash is optional) with
// limiter instead of the default one, so an expensive method gets its own
// rate. A nil limiter leaves the procedure unlimited. The key is the same;
// the buckets are limiter's own.
func WithProcedureLimiter(procedure string, limiter Limiter) Option {
	procedure = "/" + strings.TrimPrefix(procedure, "/")
	return optionFunc(func(c *config) {
		if c.procedures == nil {
			c.procedures = make(map[string]Limiter)
		}
		c.procedures[procedure] = limiter
	})
}

// WithCost sets how many tokens a call spends (default 1; values below 0
// count as 0).
func WithCost(cost func(call *Call) int) Option {
	return optionFunc(func(c *config) { c.cost = cost })
}

// WithAllowedHeaders sends the RateLimit and RateLimit-Policy headers on
// allowed calls too (they are always sent on rejections), so well-behaved
// clients can slow down before they are rejected.
func WithAllowedHeaders() Option {
	return optionFunc(func(c *config) { c.allowedHeaders = true })
}

// WithDryRun counts and reports rejections (through [Middleware.Stats] and
// the [WithOnReject] hook) without rejecting anything: a way to try a limit
// in production.
func WithDryRun() Option {
	return optionFunc(func(c *config) { c.dryRun = true })
}

// WithOnReject calls fn for every call the limiter denies, before the
// error is sent (in dry-run mode, for every call that would have been
// denied). A limiter that fails to decide is reported to [WithOnError]
// instead, even when its failure policy rejects the call. fn runs on the
// request path and must be quick; call must not be retained.
func WithOnReject(fn func(ctx context.Context, call *Call, d Decision)) Option {
	return optionFunc(func(c *config) { c.onReject = fn })
}

// WithOnError calls fn when a [Limiter] fails to decide (a Redis backend is
// down, for instance). What happens to the call is the limiter's failure
// policy: allowed, or rejected with CodeUnavailable.
func WithOnError(fn func(ctx context.Context, call *Call, err error)) Option {
	return optionFunc(func(c *config) { c.onError = fn })
}

// WithClock sets the clock decisions use, for tests. By default a [Local]
// limiter reads the monotonic clock (immune to wall-clock steps) and other
// limiters read time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now != nil {
			c.now = now
		}
	})
}

// WithMessageLimiter makes the [Interceptor] also limit each message of a
// stream, one token per message from limiter, with the call's key: a handler
// gets a ResourceExhausted error (with a RetryInfo detail, and no response
// headers, which a stream may have sent already) from the Receive of a
// message over the limit, a client waits before Send. The end of a stream
// spends no token.
// Streams are always limited when they open; without this option a stream
// that opened can send as much as it likes.
func WithMessageLimiter(limiter Limiter) Option {
	return optionFunc(func(c *config) { c.messages = limiter })
}

// WithClientNoWait makes the client side of the [Interceptor] fail at once
// with CodeResourceExhausted instead of waiting until the call is allowed.
func WithClientNoWait() Option {
	return optionFunc(func(c *config) { c.clientNoWait = true })
}
