package ratelimit

import (
	"context"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
)

// TestLocalHashCollisions forces keys onto one hash, so that they share
// one probe sequence: they must keep separate buckets, and evicting any of
// them (which leaves a tombstone in the sequence) must keep the others
// reachable, through evictions and table rebuilds.
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
	s := &l.shards[0]
	for i := range 200 {
		k := "k" + strconv.Itoa(i)
		assert.True(t, take(k), "a new key starts full: "+k)
		assert.Equal(t, l.Len(), 3)
		tab := s.tab
		live := 0
		for j := range tab.slots {
			e := tab.slots[j].Load()
			if e == nil || e == tombstone {
				continue
			}
			live++
			assert.True(t, s.ring[e.frame] == e, "the ring holds every live entry: "+e.key)
			assert.True(t, s.lookup(e.key, h) == e, "every live entry is reachable: "+e.key)
			assert.True(t, !take(e.key), "a tracked key keeps its spent bucket: "+e.key)
		}
		assert.Equal(t, live, 3, "live entries in the table")
		assert.True(t, s.used*4 <= 3*len(tab.slots), "the table always has empty slots")
	}
}

// TestLocalEvictsUnusedFirst checks the CLOCK order: with the bound
// reached, a new key evicts the first key, in the hand's order, that was
// not used since the hand last passed it (a new key counts as unused), and
// clears the marks of the used keys it passes.
func TestLocalEvictsUnusedFirst(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := NewLocal(Policy{Limit: 1, Burst: 1}, WithMaxKeys(4), WithIdleTimeout(0))
	tracked := func(k string) bool {
		return l.shards[0].lookup(k, l.hash(k)) != nil
	}
	check := func(want ...string) {
		t.Helper()
		for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			assert.Equal(t, tracked(k), slices.Contains(want, k), "tracked: "+k)
		}
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		l.Allow(now, k)
	}
	l.Allow(now, "a")
	l.Allow(now, "c")
	l.Allow(now, "e") // clears a, evicts b; e takes b's frame
	check("a", "c", "d", "e")
	l.Allow(now, "f") // clears c, evicts d
	check("a", "c", "e", "f")
	l.Allow(now, "a")
	l.Allow(now, "g") // a is used again: passes it and clears it, evicts e
	check("a", "c", "f", "g")
	assert.True(t, !l.Allow(now, "a").Allowed, "a kept its spent bucket")
	assert.True(t, !l.Allow(now, "c").Allowed, "c kept its spent bucket")
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

// TestLocalConcurrentChurn has goroutines decide for overlapping keys
// while others add new ones, so that lock-free lookups race inserts,
// evictions, idle sweeps and table rebuilds. Run under -race it checks the
// memory accesses; after it, the shard's table and ring must agree, and
// the bound must hold.
func TestLocalConcurrentChurn(t *testing.T) {
	t.Parallel()
	l := NewLocal(Policy{Limit: 1000, Burst: 10}, WithMaxKeys(64), WithIdleTimeout(5*time.Millisecond))
	base := time.Unix(1_000_000, 0)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				now := base.Add(time.Duration(i) * time.Millisecond)
				l.Allow(now, "hot-"+strconv.Itoa(i%4))
				l.Allow(now, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i))
				assert.True(t, l.Len() <= 64, "bound")
			}
		})
	}
	wg.Wait()
	for i := range l.shards {
		s := &l.shards[i]
		tab := s.tab
		live, used := 0, 0
		for j := range tab.slots {
			e := tab.slots[j].Load()
			if e == nil {
				continue
			}
			used++
			if e == tombstone {
				continue
			}
			live++
			assert.True(t, s.ring[e.frame] == e, "the ring holds every live entry")
			assert.True(t, s.lookup(e.key, e.hash) == e, "every live entry is reachable")
		}
		assert.Equal(t, used, s.used)
		assert.Equal(t, live, len(s.ring)-len(s.free))
		for _, f := range s.free {
			assert.True(t, s.ring[f] == nil, "free frames are empty")
		}
	}
}

// TestLocalEvictionEndsUnderLoad has every key used again as soon as the
// CLOCK hand clears its mark, as keys in constant use from other goroutines
// can be: the hand must still evict one after two turns rather than spin.
func TestLocalEvictionEndsUnderLoad(t *testing.T) {
	t.Parallel()
	l := NewLocal(Policy{Limit: rate.Inf, Burst: 1}, WithMaxKeys(3), WithIdleTimeout(0))
	l.passed = func(e *entry) { e.used.Store(true) }
	now := time.Unix(1_000_000, 0)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(now, k)
		l.Allow(now, k)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Allow(now, "d")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("adding a key hung while every key was in use")
	}
	assert.Equal(t, l.Len(), 3)
	assert.True(t, l.shards[0].lookup("d", l.hash("d")) != nil, "d was added")
}

// TestLocalMatchesReference runs random decisions through a Local that
// never needs to evict and through one plain rate.Limiter per key: every
// answer and token count must agree. Hashes are squeezed into a few values
// for half the keys so that lookups walk long probe sequences, across
// table rebuilds.
func TestLocalMatchesReference(t *testing.T) {
	t.Parallel()
	policy := Policy{Limit: 5, Burst: 3}
	l := NewLocal(policy, WithMaxKeys(1000), WithIdleTimeout(0))
	ref := map[string]*rate.Limiter{}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	now := time.Unix(1_000_000, 0)
	for i := range 20_000 {
		now = now.Add(time.Duration(rng.IntN(100)) * time.Millisecond)
		key := "k" + strconv.Itoa(rng.IntN(300))
		h := l.hash(key)
		if len(key)%2 == 0 {
			h = uint64(len(key)) // collide with every key of this length
		}
		n := rng.IntN(4)
		allowed, tokens := l.takeHashed(now, key, h, n, true)
		r := ref[key]
		if r == nil {
			r = rate.NewLimiter(policy.Limit, policy.Burst)
			r.SetBurstAt(time.Time{}, policy.Burst)
			r.SetLimitAt(time.Time{}, policy.Limit)
			ref[key] = r
		}
		want := r.AllowN(now, n)
		if allowed != want || tokens != r.TokensAt(now) {
			t.Fatalf("decision %d for %s: got %v with %v tokens, want %v with %v", i, key, allowed, tokens, want, r.TokensAt(now))
		}
	}
	assert.Equal(t, l.Len(), len(ref))
}

// TestLocalLookupStaleMask gives a lock-free lookup what a decision can
// see while a table is replaced: the old, smaller mask over the new table,
// whose first slots hold other keys with no empty slot among them. The
// lookup must end (with a miss, which is then checked under the lock) and
// still find a key within the old mask's reach.
func TestLocalLookupStaleMask(t *testing.T) {
	t.Parallel()
	l := NewLocal(Policy{Limit: 1, Burst: 1}, WithMaxKeys(100))
	s := &l.shards[0]
	nt := newTable(16)
	for i := range 8 {
		nt.slots[i].Store(&entry{key: "other-" + strconv.Itoa(i), hash: uint64(i)})
	}
	s.first.Store(&nt.slots[0])
	s.mask.Store(7)
	done := make(chan [2]*entry)
	go func() { done <- [2]*entry{s.lookup("absent", 3), s.lookup("other-5", 5)} }()
	select {
	case got := <-done:
		assert.True(t, got[0] == nil, "a key in neither table is a miss")
		assert.True(t, got[1] != nil && got[1].key == "other-5", "a key within the old mask's reach is found")
	case <-time.After(10 * time.Second):
		t.Fatal("a lookup with a stale mask never ended")
	}
}

// TestLocalTableNeverShrinks fills a shard, removes most of its keys and
// rebuilds its table (as an insert does when tombstones pile up): the
// tombstones go, but the table keeps its size, so a mask a decision read
// before stays within it.
func TestLocalTableNeverShrinks(t *testing.T) {
	t.Parallel()
	l := NewLocal(Policy{Limit: 1, Burst: 1}, WithMaxKeys(200))
	s := &l.shards[0]
	now := time.Unix(1_000_000, 0)
	for i := range 150 {
		l.Allow(now, "k"+strconv.Itoa(i))
	}
	size := len(s.tab.slots)
	assert.True(t, size >= 256, "the table grew")
	s.mu.Lock()
	for _, e := range s.ring[:140] {
		s.remove(s.tab, e)
	}
	nt := s.rebuild(s.tab)
	s.mu.Unlock()
	assert.Equal(t, l.Len(), 10)
	assert.Equal(t, s.used, 10, "no tombstones are left")
	assert.Equal(t, len(nt.slots), size, "the rebuilt table's size")
	assert.True(t, s.tab == nt, "the rebuilt table is the shard's")
	assert.Equal(t, s.mask.Load(), uint64(size-1), "the published mask")
	assert.True(t, s.first.Load() == &nt.slots[0], "the published slots")
	for _, e := range s.ring[140:] {
		assert.True(t, s.lookup(e.key, e.hash) == e, "the remaining keys are found: "+e.key)
	}
}

// TestMonotonicNow checks the decisions' clock: it carries a monotonic
// reading (so a Local compares it with callers' time.Now by that reading),
// agrees with time.Now and with the UnixNano it comes with, and never goes
// back.
func TestMonotonicNow(t *testing.T) {
	t.Parallel()
	before := time.Now()
	got, nanos := monotonicNow()
	after := time.Now()
	assert.Equal(t, nanos, got.UnixNano())
	assert.True(t, strings.Contains(got.String(), " m=+"), "a monotonic reading: "+got.String())
	assert.True(t, !got.Before(before) && !got.After(after), "between two time.Now readings")
	assert.True(t, got.Round(0).Sub(before.Round(0)).Abs() < time.Second, "the wall time agrees")
	prev := got
	for range 1000 {
		next, _ := monotonicNow()
		assert.True(t, !next.Before(prev), "never goes back")
		prev = next
	}
}

// TestShardSize holds the shard's padding: shards are 128 bytes, two cache
// lines, so that decisions on different shards never write one line.
func TestShardSize(t *testing.T) {
	t.Parallel()
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the padding is sized for 64-bit platforms")
	}
	assert.Equal(t, unsafe.Sizeof(shard{}), uintptr(128))
}

// idleSweepSetup returns a Local whose one shard holds key k, with two of
// its three tokens left, behind seven other keys, all last used at t0; at
// t0+3s they are idle (timeout 1s) and k's bucket is full again, so the
// next key added sweeps k's frame and finds it idle.
func idleSweepSetup(t *testing.T) (l *Local, t0 time.Time) {
	t.Helper()
	l = NewLocal(Policy{Limit: 1, Burst: 3}, WithMaxKeys(64), WithIdleTimeout(time.Second))
	assert.Equal(t, len(l.shards), 1)
	t0 = time.Unix(1000, 0)
	assert.True(t, l.Allow(t0, "k").Allowed)
	for i := range 7 {
		l.Allow(t0, "f"+strconv.Itoa(i))
	}
	return l, t0
}

// TestLocalSpendOnSweptEntry: a decision that found its entry before the
// idle sweep removed it spends from a bucket no one will see again. It
// finds the entry dead afterwards and decides again on the key's live
// entry, so its spend is not lost.
func TestLocalSpendOnSweptEntry(t *testing.T) {
	t.Parallel()
	l, t0 := idleSweepSetup(t)
	t1 := t0.Add(3 * time.Second)
	h := l.hash("k")
	s := &l.shards[h>>l.shardShift]
	e := s.lookup("k", h) // the decision has found k...
	l.Allow(t1, "new")    // ...when another key's insert sweeps it away
	assert.True(t, e.dead.Load())
	assert.True(t, s.lookup("k", h) == nil)
	e.use(t1.UnixNano()) // the decision goes on
	allowed := e.lim.AllowN(t1, 1)
	assert.True(t, allowed)
	live, allowed := l.again(e, t1, "k", h, 1, allowed)
	assert.True(t, allowed)
	assert.True(t, live != e && !live.dead.Load())
	assert.Equal(t, l.Allow(t1, "k").Remaining, int64(1), "the spend counted on the live entry")
}

// TestLocalSweepSeesUse: a decision that records its use after the idle
// sweep marked its entry dead, but before the sweep looks again, keeps the
// entry alive, and its spend stands.
func TestLocalSweepSeesUse(t *testing.T) {
	t.Parallel()
	l, t0 := idleSweepSetup(t)
	t1 := t0.Add(3 * time.Second)
	h := l.hash("k")
	s := &l.shards[h>>l.shardShift]
	e := s.lookup("k", h)
	marked := 0
	l.marked = func(m *entry) {
		if m == e {
			marked++
			e.use(t1.UnixNano()) // the decision, between the sweep's two looks
		}
	}
	l.Allow(t1, "new")
	assert.Equal(t, marked, 1)
	assert.True(t, !e.dead.Load(), "the sweep saw the use and kept the entry")
	assert.True(t, s.lookup("k", h) == e)
	allowed := e.lim.AllowN(t1, 1)
	live, allowed := l.again(e, t1, "k", h, 1, allowed) // what a decision that saw dead would do
	assert.True(t, allowed && live == e)
	assert.Equal(t, l.Allow(t1, "k").Remaining, int64(1))
}

// TestLocalIdleSweepRace runs decisions for a known key against inserts
// that sweep it as idle, many times, through Allow and the interceptor's
// quick path: no spend is ever lost.
func TestLocalIdleSweepRace(t *testing.T) {
	t.Parallel()
	trials := 1000
	if testing.Short() {
		trials = 100
	}
	g := newGuard(nil, []Option{WithKey(KeyHeader("K"))})
	for trial := range trials {
		l, t0 := idleSweepSetup(t)
		t1 := t0.Add(3 * time.Second)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if trial%2 == 0 {
				l.Allow(t1, "k")
				return
			}
			g.cfg.now = func() time.Time { return t1 }
			_, _, ok := g.quick(context.Background(), http.Header{"K": {"k"}}, l)
			assert.True(t, ok)
		}()
		go func() {
			defer wg.Done()
			for i := range 8 {
				l.Allow(t1, "n"+strconv.Itoa(i))
			}
		}()
		wg.Wait()
		if d := l.Allow(t1, "k"); d.Remaining != 1 {
			t.Fatalf("trial %d: %d tokens left after two spends from a full bucket of 3", trial, d.Remaining)
		}
	}
}

// TestLocalVeryLongWindow: a policy whose window is longer than a Duration
// holds (rate.Every(30 days), Burst 10,000: 822 years) starts each key
// full and never takes a key in use for an idle one.
func TestLocalVeryLongWindow(t *testing.T) {
	t.Parallel()
	l := NewLocal(Policy{Limit: rate.Every(30 * 24 * time.Hour), Burst: 10_000}, WithMaxKeys(100))
	now := time.Now()
	assert.Equal(t, l.Allow(now, "a").Remaining, int64(9_999), "a new key starts full")
	for range 9_999 {
		assert.True(t, l.Allow(now, "a").Allowed)
	}
	assert.True(t, !l.Allow(now, "a").Allowed)
	for i := range 20 {
		l.Allow(now.Add(time.Duration(i)*time.Hour), "b"+strconv.Itoa(i)) // inserts sweep for idle keys
	}
	assert.True(t, !l.Allow(now.Add(20*time.Hour), "a").Allowed, "a was not forgotten")
}
