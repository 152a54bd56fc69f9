package ratelimit

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Limiter decides whether a call identified by a key may spend n tokens now.
// [Local] keeps one token bucket per key in memory; the ratelimit/redis
// sub-package shares buckets between replicas.
//
// AllowN must be safe for concurrent use. The key is valid only for the
// duration of the call: an implementation that keeps it (as a map key, say)
// must copy it first, because callers reuse its memory. A non-nil error means
// the limiter could not decide (a backend is down); the Decision returned with
// it still says what to do, according to the limiter's failure policy.
type Limiter interface {
	AllowN(ctx context.Context, now time.Time, key string, n int) (Decision, error)
}

// Policy is the rate a [Limiter] enforces: a token bucket that holds Burst
// tokens and refills at Limit tokens per second. A call spends one token,
// or what [WithCost] says.
type Policy struct {
	// Name identifies the policy in the RateLimit and RateLimit-Policy
	// headers. Empty means "default".
	Name string
	// Limit is the sustained rate, in tokens per second; it must be
	// positive. rate.Inf allows everything.
	Limit rate.Limit
	// Burst is the bucket size: the most tokens a caller can spend at once,
	// and the quota advertised in RateLimit-Policy.
	Burst int
}

// PolicyName returns p.Name, or "default" when it is empty.
func (p Policy) PolicyName() string {
	if p.Name == "" {
		return "default"
	}
	return p.Name
}

// Window returns how long an empty bucket takes to fill again: Burst divided
// by Limit. It is zero for rate.Inf.
func (p Policy) Window() time.Duration {
	return p.durationFor(float64(p.Burst))
}

// durationFor returns how long the bucket takes to gain tokens, capped at
// the largest Duration.
func (p Policy) durationFor(tokens float64) time.Duration {
	if tokens <= 0 || p.Limit == rate.Inf {
		return 0
	}
	if p.Limit <= 0 {
		return time.Duration(math.MaxInt64)
	}
	d := tokens / float64(p.Limit) * float64(time.Second)
	if d >= float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(d))
}

// Decision is a [Limiter]'s answer, with what the caller should tell the
// client.
type Decision struct {
	// Allowed reports whether the call may proceed.
	Allowed bool
	// Remaining is how many whole tokens are left in the bucket after this
	// decision (never negative).
	Remaining int64
	// RetryAfter is how long to wait before the same call can succeed. It is
	// zero when Allowed. When the cost exceeds the bucket (it can never
	// succeed) it is the policy's Window.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// Policy is the policy that decided.
	Policy Policy
}
