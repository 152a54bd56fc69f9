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
	d := ratelimit.Decision{Remaining: 50, Reset: 29*time.Second + time.Millisecond, Allowed: true}
	assert.Equal(t, string(ratelimit.AppendRateLimitHeader(nil, d)), `"default";r=50;t=30`)
	assert.Equal(t, ratelimit.RetryAfterSeconds(d), int64(0))
	denied := ratelimit.Decision{RetryAfter: time.Millisecond}
	assert.Equal(t, ratelimit.RetryAfterSeconds(denied), int64(1), "never Retry-After: 0 on a rejection")
	long := ratelimit.Decision{RetryAfter: time.Duration(1<<63 - 1)}
	assert.True(t, ratelimit.RetryAfterSeconds(long) > 0, "no overflow")
}

func TestRetryDelayWithoutDetail(t *testing.T) {
	t.Parallel()
	_, ok := ratelimit.RetryDelay(nil)
	assert.True(t, !ok)
}
