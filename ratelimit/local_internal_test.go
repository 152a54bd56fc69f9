package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/connectware/connectware/internal/assert"
)

// TestLocalHashCollisions forces keys onto one hash: they must keep
// separate buckets, and evicting any of them must keep the others
// reachable.
func TestLocalHashCollisions(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := NewLocal(Policy{Limit: 1, Burst: 1}, WithMaxKeys(3), WithIdleTimeout(0))
	const h = 42
	take := func(key string) bool {
		allowed, _ := l.takeHashed(now, key, h, 1, true)
		return allowed
	}
	for _, k := range []string{"a", "b", "c"} {
		assert.True(t, take(k), "first call for "+k)
	}
	for _, k := range []string{"a", "b", "c"} {
		assert.True(t, !take(k), "second call for "+k+" shares no bucket")
	}
	assert.Equal(t, l.Len(), 3)
	// A fourth key evicts the least recently used one ("a", from the middle
	// of the chain: the chain is c, b, a).
	assert.True(t, take("d"))
	assert.Equal(t, l.Len(), 3)
	assert.True(t, !take("b"), "b is still tracked")
	assert.True(t, !take("c"), "c is still tracked")
	assert.True(t, !take("d"), "d is tracked")
	// "a" comes back with a full bucket, evicting "b" (now the least recently used).
	assert.True(t, take("a"))
	assert.True(t, !take("c"))
	assert.True(t, !take("d"))
	assert.True(t, take("b"), "b was evicted, so its bucket is new")
	// Evict the chain's head and tail too: every key stays consistent.
	for _, k := range []string{"e", "f", "g"} {
		assert.True(t, take(k))
	}
	assert.Equal(t, l.Len(), 3)
	for _, k := range []string{"e", "f", "g"} {
		assert.True(t, !take(k))
	}
	s := &l.shards[h&uint64(len(l.shards)-1)]
	n := 0
	for e := s.m[h]; e != nil; e = e.same {
		n++
	}
	assert.Equal(t, n, 3, "chain length")
	assert.Equal(t, len(s.m), 1)
}

// TestQuickPathEngaged checks which configurations decide handler calls on
// the quick path, so that a change cannot silently send every call the
// long way (TestQuickPathMatchesFullPath checks that both ways agree).
func TestQuickPathEngaged(t *testing.T) {
	t.Parallel()
	local := NewLocal(Policy{Limit: 1000, Burst: 1000})
	h := http.Header{"X-Key": {"k"}}
	for _, tc := range []struct {
		name  string
		lim   Limiter
		opts  []Option
		quick bool
	}{
		{"header key", local, []Option{WithKey(KeyHeader("x-key"))}, true},
		{"identity key", local, []Option{WithKey(KeyIdentity())}, true},
		{"global key", local, []Option{WithKey(KeyGlobal())}, true},
		{"KeyFunc", local, []Option{WithKey(KeyFunc(KeyHeader("x-key").AppendKey))}, false},
		{"default key (IP)", local, nil, false},
		{"joined keys", local, []Option{WithKey(KeyJoin(KeyHeader("x-key")))}, false},
		{"cost", local, []Option{WithKey(KeyHeader("x-key")), WithCost(func(*Call) int { return 1 })}, false},
		{"allowed headers", local, []Option{WithKey(KeyHeader("x-key")), WithAllowedHeaders()}, false},
		{"other limiter", otherLimiter{local}, []Option{WithKey(KeyHeader("x-key"))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(tc.lim, tc.opts)
			out, _, ok := g.quick(context.Background(), h, tc.lim)
			assert.Equal(t, ok, tc.quick)
			if ok && tc.name != "identity key" {
				assert.Equal(t, out, outcomeAllowed)
			}
			if ok && tc.name == "identity key" {
				assert.Equal(t, out, outcomeUnlimited, "no identity: no key")
			}
		})
	}
}

// otherLimiter is a Limiter that is not a *Local.
type otherLimiter struct{ l *Local }

func (o otherLimiter) AllowN(ctx context.Context, now time.Time, key string, n int) (Decision, error) {
	return o.l.AllowN(ctx, now, key, n)
}
