package ratelimit_test

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/ratelimit"
)

func TestPolicyHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    ratelimit.Policy
		want string
	}{
		{ratelimit.Policy{Limit: 10, Burst: 100}, `"default";q=100;w=10`},
		{ratelimit.Policy{Name: "per-client", Limit: rate.Every(time.Minute), Burst: 1}, `"per-client";q=1;w=60`},
		{ratelimit.Policy{Name: "fast", Limit: 1000, Burst: 10}, `"fast";q=10;w=1`}, // window rounds up to 1s
		{ratelimit.Policy{Name: "a\"b\\c\x01é", Limit: 1, Burst: 1}, `"a\"b\\c???";q=1;w=1`},
	} {
		assert.Equal(t, string(ratelimit.AppendPolicyHeader(nil, tc.p)), tc.want)
	}
}

func TestRateLimitHeaderAndRetryAfter(t *testing.T) {
	t.Parallel()
	d := ratelimit.Decision{Remaining: 50, Reset: 29*time.Second + time.Millisecond, Allowed: true,
		Policy: ratelimit.Policy{Limit: 1, Burst: 80}}
	assert.Equal(t, string(ratelimit.AppendRateLimitHeader(nil, d)), `"default";r=50;t=1`)
	assert.Equal(t, ratelimit.RetryAfterSeconds(d), int64(0))
	denied := ratelimit.Decision{RetryAfter: time.Millisecond}
	assert.Equal(t, ratelimit.RetryAfterSeconds(denied), int64(1), "never Retry-After: 0 on a rejection")
	long := ratelimit.Decision{RetryAfter: time.Duration(1<<63 - 1)}
	assert.True(t, ratelimit.RetryAfterSeconds(long) > 0, "no overflow")
}

// TestEffectiveWindow checks t against draft -11's meaning, the seconds
// within which the client can use no more than r: until one token more
// than r has come back, and, on a rejection, no later than Retry-After.
// Decisions come from a Local, so they carry its rounding.
func TestEffectiveWindow(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name   string
		policy ratelimit.Policy
		spend  int           // tokens spent at start
		after  time.Duration // then a decision this much later
		want   string
		retry  int64 // Retry-After of the last decision, when rejected
	}{
		{"full bucket, a token a second", ratelimit.Policy{Limit: 1, Burst: 10}, 0, 0, `"default";r=9;t=1`, 0},
		{"rejected, burst above one", ratelimit.Policy{Limit: 1, Burst: 10}, 10, 0, `"default";r=0;t=1`, 1},
		{"rejected, a token in 2s", ratelimit.Policy{Limit: 0.5, Burst: 4}, 4, 0, `"default";r=0;t=2`, 2},
		{"half a token back", ratelimit.Policy{Limit: 0.5, Burst: 4}, 4, time.Second, `"default";r=0;t=1`, 1},
		{"fractional tokens", ratelimit.Policy{Limit: 0.25, Burst: 8}, 5, 2 * time.Second, `"default";r=2;t=2`, 0},
		{"hourly", ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 3}, 1, 0, `"default";r=1;t=3600`, 0},
		{"unlimited", ratelimit.Policy{Limit: rate.Inf, Burst: 3}, 1, 0, `"default";r=3`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := ratelimit.NewLocal(c.policy)
			for range c.spend {
				l.Allow(start, "k")
			}
			d := l.Allow(start.Add(c.after), "k")
			assert.Equal(t, string(ratelimit.AppendRateLimitHeader(nil, d)), c.want)
			if !d.Allowed {
				assert.Equal(t, ratelimit.RetryAfterSeconds(d), c.retry)
			}
		})
	}
	never := ratelimit.Decision{Allowed: true, Remaining: 1, Policy: ratelimit.Policy{Burst: 3}}
	assert.Equal(t, string(ratelimit.AppendRateLimitHeader(nil, never)), `"default";r=1`, "a policy that never refills has no window")
}

func TestRetryDelayWithoutDetail(t *testing.T) {
	t.Parallel()
	_, ok := ratelimit.RetryDelay(nil)
	assert.True(t, !ok)
}
