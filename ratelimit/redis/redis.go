// Package redis is a [ratelimit.Limiter] kept in Redis, so every replica of
// a service shares one bucket per key.
//
// Each decision is one round trip: a Lua script (GCRA, the token bucket kept
// as one timestamp per key) runs atomically in Redis, through EVALSHA with a
// fallback to EVAL when Redis has not cached it. Keys carry a hash tag, so
// they work in Redis Cluster. Time is the Redis server's, so replicas
// whose clocks drift apart still share one limit fairly. Each decision has
// its own timeout, and when Redis fails the limiter allows or denies
// according to its [FailurePolicy].
//
// Give the go-redis client ContextTimeoutEnabled: true, so a round trip the
// limiter gave up on also ends at the timeout rather than at the client's
// ReadTimeout. A decision that timed out may still be applied by Redis later.
//
//	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	limiter := redis.New(client, ratelimit.Policy{Name: "per-client", Limit: 10, Burst: 20},
//		redis.WithTimeout(50*time.Millisecond), redis.WithFailurePolicy(redis.FailOpen))
//	handler := ratelimit.NewMiddleware(limiter, ratelimit.WithKey(ratelimit.KeyIdentity())).Wrap(mux)
//
// It lives apart from package ratelimit so that importing ratelimit does not
// pull in a Redis client.
package redis

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/ratelimit"
)

//go:embed gcra.lua
var gcraSource string

var gcra = goredis.NewScript(gcraSource)

// DefaultTimeout is the default time a decision may take before the
// limiter's FailurePolicy applies.
const DefaultTimeout = 100 * time.Millisecond

// FailurePolicy says what a [Limiter] answers when Redis cannot decide
// (down, slow, unreachable).
type FailurePolicy int

const (
	// FailOpen allows the call: Redis trouble does not become an outage.
	// This is the default.
	FailOpen FailurePolicy = iota
	// FailClosed denies the call; the middleware and interceptor reject it
	// with CodeUnavailable and a Retry-After of one second.
	FailClosed
)

// Option configures a [Limiter].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	prefix      string
	timeout     time.Duration
	failure     FailurePolicy
	callerClock bool
}

// noBraces keeps braces out of key prefixes: the first {...} of a Redis
// key is its Redis Cluster hash tag, which must be the limiting key's.
var noBraces = strings.NewReplacer("{", "(", "}", ")")

// WithPrefix sets the prefix of the limiter's Redis keys (default
// "ratelimit:" followed by the policy name, its braces made parentheses,
// and a colon). Limiters sharing a prefix share buckets, so two policies
// need two prefixes (or two names). Braces in a prefix would make it the
// Redis Cluster hash tag of every key, putting all of them in one slot;
// WithPrefix replaces them with parentheses, as the default does.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = noBraces.Replace(prefix) })
}

// WithTimeout bounds each decision, round trip included (default
// [DefaultTimeout]). Past it the failure policy applies.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithCallerClock makes the limiter decide at the time AllowN is given (the
// caller's clock, or a test's injected times) instead of the Redis
// server's. Replicas' clocks must then agree to well within a token's
// interval: a replica whose clock runs ahead spends the others' future, and
// one that runs behind is denied until its clock catches up.
func WithCallerClock() Option {
	return optionFunc(func(c *config) { c.callerClock = true })
}

// WithFailurePolicy sets what the limiter answers when Redis fails (default
// [FailOpen]).
func WithFailurePolicy(p FailurePolicy) Option {
	return optionFunc(func(c *config) { c.failure = p })
}

// Limiter is a [ratelimit.Limiter] whose buckets live in Redis. It is safe
// for concurrent use; any number of Limiters with the same policy and prefix,
// in any number of processes, share the buckets.
//
// Decisions use the Redis server's clock (its TIME), which every replica
// shares, so replicas' clocks need not agree, and the now argument of
// AllowN is ignored; [WithCallerClock] uses it instead.
type Limiter struct {
	client   goredis.Scripter
	policy   ratelimit.Policy
	cfg      config
	interval string // microseconds per token
	burst    int
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a limiter enforcing policy in the Redis that client talks to
// (a *redis.Client, *redis.ClusterClient, *redis.Ring or any other
// Scripter). A Burst below 1 is treated as 1. New panics if policy.Limit is
// not positive.
func New(client goredis.Scripter, policy ratelimit.Policy, opts ...Option) *Limiter {
	if !(policy.Limit > 0) {
		panic("ratelimit/redis: New needs a positive Limit")
	}
	policy.Burst = max(policy.Burst, 1)
	cfg := config{prefix: "ratelimit:" + noBraces.Replace(policy.PolicyName()) + ":", timeout: DefaultTimeout}
	for _, o := range opts {
		o.apply(&cfg)
	}
	l := &Limiter{client: client, policy: policy, cfg: cfg, burst: policy.Burst}
	if policy.Limit != rate.Inf {
		l.interval = strconv.FormatFloat(1e6/float64(policy.Limit), 'f', -1, 64)
	}
	return l
}

// Policy returns the policy l enforces.
func (l *Limiter) Policy() ratelimit.Policy { return l.policy }

// Key returns the Redis key of a limiting key: the prefix, then the key in
// braces, a Redis Cluster hash tag.
func (l *Limiter) Key(key string) string {
	var b strings.Builder
	b.Grow(len(l.cfg.prefix) + len(key) + 2)
	b.WriteString(l.cfg.prefix)
	b.WriteByte('{')
	b.WriteString(key)
	b.WriteByte('}')
	return b.String()
}

// AllowN reports whether the bucket for key holds n tokens and, if so,
// spends them, in one atomic round trip. The time is the Redis server's,
// or now with [WithCallerClock]. When Redis fails or the
// decision takes longer than the timeout, AllowN returns the error and the
// decision of the failure policy. The timeout holds even when the go-redis
// client ignores contexts; set ContextTimeoutEnabled in its options so an
// abandoned round trip also ends at the timeout, not at ReadTimeout.
func (l *Limiter) AllowN(ctx context.Context, now time.Time, key string, n int) (ratelimit.Decision, error) {
	n = max(n, 0)
	if l.policy.Limit == rate.Inf {
		return ratelimit.Decision{Allowed: true, Remaining: int64(l.burst), Policy: l.policy}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.timeout)
	defer cancel()
	res, err := l.run(ctx, key, now, n)
	if err == nil && len(res) != 4 {
		err = fmt.Errorf("unexpected script reply %v", res)
	}
	if err != nil {
		return l.failed(), fmt.Errorf("ratelimit/redis: %w", err)
	}
	return ratelimit.Decision{
		Allowed:    res[0] == 1,
		Remaining:  max(res[1], 0),
		RetryAfter: micros(res[2]),
		Reset:      micros(res[3]),
		Policy:     l.policy,
	}, nil
}

type reply struct {
	res []int64
	err error
}

// run runs the script and waits for its reply until ctx ends. go-redis
// clients ignore context deadlines unless ContextTimeoutEnabled is set, and
// then wait up to their ReadTimeout (and retries); run does not wait for
// them, so the timeout holds whatever the client's options.
func (l *Limiter) run(ctx context.Context, key string, now time.Time, n int) ([]int64, error) {
	keys := []string{l.Key(key)}
	done := make(chan reply, 1)
	go func() {
		var at int64 // the server's clock
		if l.cfg.callerClock {
			at = max(now.UnixMicro(), 1)
		}
		res, err := gcra.Run(ctx, l.client, keys, at, l.interval, l.burst, n).Int64Slice()
		done <- reply{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Limiter) failed() ratelimit.Decision {
	if l.cfg.failure == FailClosed {
		return ratelimit.Decision{RetryAfter: time.Second, Policy: l.policy}
	}
	return ratelimit.Decision{Allowed: true, Policy: l.policy}
}

func micros(us int64) time.Duration {
	if us <= 0 {
		return 0
	}
	if us > math.MaxInt64/int64(time.Microsecond) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(us) * time.Microsecond
}
