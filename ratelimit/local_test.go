package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/ratelimit"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLocalBurstThenRefill(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: 1, Burst: 3})
	for i := range 3 {
		d := l.Allow(t0, "a")
		assert.True(t, d.Allowed, "call", i)
		assert.Equal(t, d.Remaining, int64(2-i))
		assert.Equal(t, d.RetryAfter, time.Duration(0))
	}
	d := l.Allow(t0, "a")
	assert.True(t, !d.Allowed, "fourth call at once is denied")
	assert.Equal(t, d.Remaining, int64(0))
	assert.Equal(t, d.RetryAfter, time.Second)
	assert.Equal(t, d.Reset, 3*time.Second)
	assert.True(t, l.Allow(t0, "b").Allowed, "other keys have their own bucket")
	assert.True(t, !l.Allow(t0.Add(999*time.Millisecond), "a").Allowed, "not refilled yet")
	assert.True(t, l.Allow(t0.Add(time.Second), "a").Allowed, "one token after one second")
}

func TestLocalCostAboveBurstNeverAllowed(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: 2, Burst: 4})
	d, err := l.AllowN(context.Background(), t0, "a", 5)
	assert.NoError(t, err)
	assert.True(t, !d.Allowed)
	assert.Equal(t, d.RetryAfter, 2*time.Second, "the window")
	d, _ = l.AllowN(context.Background(), t0, "a", 4)
	assert.True(t, d.Allowed, "the bucket was not spent by the impossible call")
}

func TestLocalInfiniteRate(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Inf, Burst: 1})
	for range 100 {
		assert.True(t, l.Allow(t0, "a").Allowed)
	}
}

func TestLocalNonPositiveLimitPanics(t *testing.T) {
	t.Parallel()
	defer func() { assert.True(t, recover() != nil) }()
	ratelimit.NewLocal(ratelimit.Policy{Limit: 0, Burst: 1})
}

// TestLocalMaxKeysBound rotates 20,000 keys through a limiter bounded to 100
// keys: memory stays bounded, and the least recently used key is the one
// evicted, so a key in use keeps its state.
func TestLocalMaxKeysBound(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1}, ratelimit.WithMaxKeys(100))
	assert.True(t, l.Allow(t0, "vip").Allowed)
	assert.True(t, l.Allow(t0, "old").Allowed)
	for i := range 20_000 {
		l.Allow(t0, "attacker-"+strconv.Itoa(i))
		if i%50 == 0 {
			assert.True(t, !l.Allow(t0, "vip").Allowed, "vip keeps its spent bucket")
		}
		assert.True(t, l.Len() <= 100, "bound")
	}
	assert.True(t, l.Allow(t0, "old").Allowed, "the least recently used key was evicted and starts full")
}

// TestLocalIdleEvictionIsLossless: after the policy's window a key is
// forgotten, and comes back with the full bucket it would have had anyway.
func TestLocalIdleEvictionIsLossless(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: 10, Burst: 10}, ratelimit.WithMaxKeys(100)) // window 1s
	for range 10 {
		assert.True(t, l.Allow(t0, "a").Allowed)
	}
	assert.True(t, !l.Allow(t0, "a").Allowed)
	assert.Equal(t, l.Len(), 1)
	// Keys are evicted up to a millisecond late (Local records their use to
	// within one), never early.
	assert.True(t, l.Allow(t0.Add(time.Second), "b").Allowed)
	assert.Equal(t, l.Len(), 2, "a is not evicted before the window and a millisecond")
	later := t0.Add(time.Second + time.Millisecond)
	assert.True(t, l.Allow(later, "c").Allowed)
	assert.Equal(t, l.Len(), 2, "a was idle for the window and was evicted")
	for range 10 {
		assert.True(t, l.Allow(later, "a").Allowed, "a comes back full")
	}
	assert.True(t, !l.Allow(later, "a").Allowed)
}

func TestLocalIdleTimeoutShorter(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1}, ratelimit.WithIdleTimeout(time.Minute), ratelimit.WithMaxKeys(100))
	assert.True(t, l.Allow(t0, "a").Allowed)
	assert.True(t, !l.Allow(t0, "a").Allowed)
	later := t0.Add(time.Minute + time.Millisecond)
	assert.True(t, l.Allow(later, "b").Allowed)
	assert.Equal(t, l.Len(), 1)
	assert.True(t, l.Allow(later, "a").Allowed, "forgiven early by the short idle timeout")
}

func TestLocalKnownKeyDoesNotAllocate(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Inf, Burst: 1})
	ctx := context.Background()
	now := time.Now()
	_, _ = l.AllowN(ctx, now, "key", 1)
	allocs := testing.AllocsPerRun(100, func() { _, _ = l.AllowN(ctx, now, "key", 1) })
	assert.Equal(t, allocs, 0.0)
}

func TestPolicyWindow(t *testing.T) {
	t.Parallel()
	assert.Equal(t, ratelimit.Policy{Limit: 10, Burst: 20}.Window(), 2*time.Second)
	assert.Equal(t, ratelimit.Policy{Limit: rate.Inf, Burst: 20}.Window(), time.Duration(0))
	assert.Equal(t, ratelimit.Policy{}.PolicyName(), "default")
}
