package ratelimit

import (
	"context"
	"math"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the default bound on the number of keys a [Local]
// limiter tracks.
const DefaultMaxKeys = 100_000

// lastGrain is how precisely a [Local] records when a key was last used:
// a decision writes the time only when it moved on by at least this much,
// so a busy key costs no write to shared memory. Idle keys are evicted
// lastGrain late to make up for it.
const lastGrain = int64(time.Millisecond)

// Local is an in-memory [Limiter] with one golang.org/x/time/rate token
// bucket per key.
//
// Memory is bounded: Local tracks at most MaxKeys keys (see [WithMaxKeys]).
// A key unused for the idle timeout (see [WithIdleTimeout]; by default the
// policy's Window, after which its bucket would be full anyway) is evicted
// without changing any decision. Keys are spread over up to 64 shards, and a
// shard looks for idle keys to forget whenever it adds one. When the bound
// is reached, a shard evicts a key that was not used since the shard last
// looked at it (the CLOCK approximation of least recently used; idle keys
// go first): a key in steady use keeps its state, and a key that returns
// after eviction starts with a full bucket. An attacker rotating keys
// therefore cannot grow memory, but can, at the bound, make other keys
// forget what they spent; size MaxKeys well above the number of clients
// active within one Window.
//
// Local is safe for concurrent use. A decision for a known key takes no
// lock of Local's own (only its bucket's) and does not allocate.
type Local struct {
	policy     Policy
	idle       int64 // nanoseconds; <= 0 means never idle-evict
	perShard   int
	shardShift uint // a key's shard is its hash shifted right by this
	hasher     keyHash
	shards     []shard

	// passed, when set (by tests), runs after the CLOCK hand clears a
	// key's used mark.
	passed func(*entry)
	// marked, when set (by tests), runs after the idle sweep marks an
	// entry dead and before it looks at the entry again.
	marked func(*entry)
}

// shard is one share of the keys. Its open-addressing hash table is read
// by decisions without locking; inserts and evictions change it under mu.
// A removed entry's slot holds the tombstone, and the table is rebuilt when
// live entries and tombstones fill three quarters of it. Eviction follows
// the ring, the CLOCK algorithm's frames (nil for a free one), kept apart
// from the table so that rebuilding the table does not move the hand.
//
// Decisions read the table through first and mask, in the shard itself,
// which saves them a dependent load (the table's header) per decision.
// The two are stored separately, so a decision may see a new table with
// an old mask (never the other way round: see publish), and the table never
// shrinks, so an old mask stays within any later table. Such a lookup may
// miss a key and then looks again under mu, as any miss does.
type shard struct {
	mu    sync.Mutex
	mask  atomic.Uint64                         // len(tab.slots) - 1, stored after first
	first atomic.Pointer[atomic.Pointer[entry]] // &tab.slots[0]
	tab   *table                                // the table, under mu
	used  int                                   // slots of tab that are not empty: live entries and tombstones
	ring  []*entry                              // at most perShard frames
	free  []int                                 // the free frames of ring
	hand  int                                   // the next frame the CLOCK evictor looks at
	sweep int                                   // the next frame the idle sweep looks at
	_     [24]byte                              // to 128 bytes: shards share no cache line
}

// table is a shard's hash table; its size is a power of two.
type table struct {
	slots []atomic.Pointer[entry]
}

// mask turns a hash into a slot index.
func (t *table) mask() uint64 { return uint64(len(t.slots) - 1) }

type entry struct {
	key  string // immutable once published, as is hash
	hash uint64
	// last is the UnixNano of the last decision, to within lastGrain.
	last atomic.Int64
	// used says the key was used since the CLOCK hand last passed it.
	used atomic.Bool
	// dead says the entry is being removed, or was: a decision that finds
	// it set after spending decides again (see Local.again).
	dead  atomic.Bool
	frame int // the entry's index in its shard's ring, under the shard's mu
	lim   rate.Limiter
}

// tombstone marks a slot whose entry was removed: lookups probe past it.
var tombstone = &entry{}

// sweepFrames is how many frames a shard examines for idle keys each time
// it adds one.
const sweepFrames = 8

// LocalOption configures a [Local] limiter.
type LocalOption interface {
	applyLocal(*localConfig)
}

type localConfig struct {
	maxKeys int
	idle    time.Duration
	idleSet bool
}

type localOptionFunc func(*localConfig)

func (f localOptionFunc) applyLocal(c *localConfig) { f(c) }

// WithMaxKeys bounds the number of keys a [Local] limiter tracks (default
// [DefaultMaxKeys]). Values below 1 are treated as 1.
func WithMaxKeys(n int) LocalOption {
	return localOptionFunc(func(c *localConfig) { c.maxKeys = max(n, 1) })
}

// WithIdleTimeout sets how long a key may go unused before [Local] forgets
// it (to within a millisecond, never early). The default, the policy's
// Window, never changes a decision, since a bucket left alone that long is
// full again. A shorter timeout saves memory at the price of forgiving
// clients early; zero or less (or more than about 292 years, which a
// Duration cannot exceed) keeps keys until the MaxKeys bound pushes them
// out.
func WithIdleTimeout(d time.Duration) LocalOption {
	return localOptionFunc(func(c *localConfig) { c.idle, c.idleSet = d, true })
}

// NewLocal returns an in-memory limiter enforcing policy for every key.
// A Burst below 1 is treated as 1. NewLocal panics if policy.Limit is not
// positive.
func NewLocal(policy Policy, opts ...LocalOption) *Local {
	if !(policy.Limit > 0) {
		panic("ratelimit: NewLocal needs a positive Limit")
	}
	policy.Burst = max(policy.Burst, 1)
	cfg := localConfig{maxKeys: DefaultMaxKeys}
	for _, o := range opts {
		o.applyLocal(&cfg)
	}
	if !cfg.idleSet {
		cfg.idle = policy.Window()
		if policy.Limit == rate.Inf {
			cfg.idle = time.Minute
		}
	}
	if cfg.idle > time.Duration(math.MaxInt64-lastGrain) {
		cfg.idle = 0 // longer than any clock runs: keys are never idle
	}
	n := 1
	for n < 64 && cfg.maxKeys/(n*2) >= 256 {
		n *= 2
	}
	l := &Local{
		policy:     policy,
		idle:       int64(cfg.idle),
		perShard:   cfg.maxKeys / n,
		shardShift: uint(64 - bits.TrailingZeros(uint(n))),
		hasher:     newKeyHash(),
		shards:     make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].publish(newTable(8))
	}
	return l
}

func newTable(size int) *table {
	return &table{slots: make([]atomic.Pointer[entry], size)}
}

// Policy returns the policy l enforces.
func (l *Local) Policy() Policy { return l.policy }

// Len returns the number of keys l tracks now; it never exceeds the MaxKeys
// bound.
func (l *Local) Len() int {
	total := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		total += len(s.ring) - len(s.free)
		s.mu.Unlock()
	}
	return total
}

// Allow is shorthand for AllowN(ctx, now, key, 1) without a context.
func (l *Local) Allow(now time.Time, key string) Decision {
	d, _ := l.AllowN(context.Background(), now, key, 1)
	return d
}

// AllowN reports whether the bucket for key holds n tokens at time now and,
// if so, spends them. Times may be injected (as with rate.Limiter.AllowN), so
// tests are deterministic. A cost larger than the policy's Burst is always
// denied. The error is always nil.
func (l *Local) AllowN(_ context.Context, now time.Time, key string, n int) (Decision, error) {
	allowed, tokens := l.take(now, key, n, true)
	return l.decision(allowed, tokens, n), nil
}

// hash returns the hash of key that picks its shard and slot.
func (l *Local) hash(key string) uint64 { return l.hasher.sum(key) }

// take spends n tokens from key's bucket at now if it holds them, and
// reports whether it did and, unless the call was allowed and full is
// false, the tokens left.
func (l *Local) take(now time.Time, key string, n int, full bool) (allowed bool, tokens float64) {
	return l.takeHashed(now, key, l.hash(key), n, full)
}

// takeHashed is take for a key whose hash is h.
func (l *Local) takeHashed(now time.Time, key string, h uint64, n int, full bool) (allowed bool, tokens float64) {
	e, allowed := l.spend(now, now.UnixNano(), key, h, max(n, 0))
	if allowed && !full {
		return true, 0
	}
	return allowed, e.lim.TokensAt(now)
}

// spend spends n tokens from the bucket of key, whose hash is h, at now
// (whose UnixNano is nanos) if it holds them, and reports whether it did.
// It returns the entry whose bucket decided.
func (l *Local) spend(now time.Time, nanos int64, key string, h uint64, n int) (*entry, bool) {
	e := l.bucket(now, nanos, key, h)
	allowed := e.lim.AllowN(now, n)
	if e.dead.Load() {
		e, allowed = l.again(e, now, key, h, n, allowed)
	}
	return e, allowed
}

// bucket returns the entry of key, whose hash is h, adding it when the key
// is new, and records its use at now (whose UnixNano is nanos). The caller
// spends from the entry's bucket and then, if the entry is dead, calls
// again.
func (l *Local) bucket(now time.Time, nanos int64, key string, h uint64) *entry {
	s := &l.shards[h>>l.shardShift]
	e := s.lookup(key, h)
	if e == nil {
		s.mu.Lock()
		e = l.insert(s, key, h, now, nanos)
		s.mu.Unlock()
		return e
	}
	e.use(nanos)
	return e
}

// use records a decision for e at nanos. It stores last before the
// decision spends, which the idle sweep relies on (see insert).
func (e *entry) use(nanos int64) {
	if !e.used.Load() {
		e.used.Store(true)
	}
	if last := e.last.Load(); nanos-last >= lastGrain || nanos < last {
		e.last.Store(nanos)
	}
}

// again settles a decision that spent from e's bucket, allowed or not,
// and then found e dead: removed, or about to be, by a decision adding a
// key to e's shard. Under the shard's lock, e is either live again (the
// idle sweep saw this decision's use in time) and the decision stands, or
// gone, and the decision is made again on the key's live entry, so that
// what it spent is not lost with e.
func (l *Local) again(e *entry, now time.Time, key string, h uint64, n int, allowed bool) (*entry, bool) {
	s := &l.shards[h>>l.shardShift]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.dead.Load() {
		return e, allowed
	}
	e = l.insert(s, key, h, now, now.UnixNano())
	return e, e.lim.AllowN(now, n)
}

// lookup returns the live entry for key, whose hash is h, or nil. Without
// s.mu held, a nil answer may be a miss (see shard) and must be checked
// again under s.mu, where the published table is current and the answer
// exact. The probe is bounded: with an old mask over a new table, the slots
// it visits need not include an empty one.
func (s *shard) lookup(key string, h uint64) *entry {
	mask := s.mask.Load()
	first := unsafe.Pointer(s.first.Load())
	const size = unsafe.Sizeof(atomic.Pointer[entry]{})
	for n, i := uint64(0), h&mask; n <= mask; n, i = n+1, (i+1)&mask {
		e := (*atomic.Pointer[entry])(unsafe.Add(first, uintptr(i)*size)).Load()
		if e == nil {
			return nil
		}
		if e.hash == h && e.key == key && e != tombstone {
			return e
		}
	}
	return nil
}

// publish makes t the table of s: s.mu is held, or s is new. A decision
// loads mask before first, so storing first before mask means one that
// sees t's mask also sees t's slots (or a later, larger table's).
func (s *shard) publish(t *table) {
	s.tab = t
	s.first.Store(&t.slots[0])
	s.mask.Store(t.mask())
}

func (l *Local) decision(allowed bool, tokens float64, n int) Decision {
	p := l.policy
	d := Decision{Allowed: allowed, Policy: p}
	if tokens > 0 {
		d.Remaining = int64(math.Floor(tokens))
	}
	if p.Limit == rate.Inf {
		d.Remaining = int64(p.Burst)
		return d
	}
	d.Reset = p.durationFor(float64(p.Burst) - tokens)
	if !allowed {
		if n > p.Burst {
			d.RetryAfter = p.Window()
		} else {
			d.RetryAfter = max(p.durationFor(float64(n)-tokens), time.Nanosecond)
		}
	}
	return d
}

// insert returns the entry for key in s, adding it when no other decision
// did meanwhile. It first sweeps a few frames for idle keys, then evicts a
// key when s is full, and rebuilds the table when it is three quarters
// used. s.mu is held.
func (l *Local) insert(s *shard, key string, h uint64, now time.Time, nanos int64) *entry {
	t := s.tab
	if e := s.lookup(key, h); e != nil { // exact under mu: the table is current
		e.use(nanos)
		return e
	}
	if l.idle > 0 && len(s.ring) > 0 {
		for range min(sweepFrames, len(s.ring)) {
			s.sweep %= len(s.ring)
			if e := s.ring[s.sweep]; e != nil && l.isIdle(e, nanos) {
				// A decision may be spending from e now, unlocked: it stores
				// e.last first and loads e.dead last. Marking e dead before
				// reading last again means that this sweep sees the
				// decision's use and keeps e, or the decision sees e dead
				// and decides again, on a live entry (see again).
				e.dead.Store(true)
				if l.marked != nil {
					l.marked(e)
				}
				if l.isIdle(e, nanos) {
					s.remove(t, e)
				} else {
					e.dead.Store(false)
				}
			}
			s.sweep++
		}
	}
	if len(s.ring)-len(s.free) >= l.perShard {
		s.evict(l, t, nanos)
	}
	if 4*(s.used+1) > 3*len(t.slots) {
		t = s.rebuild(t)
	}
	e := &entry{key: strings.Clone(key), hash: h}
	e.last.Store(nanos)
	// Fill the bucket by time "passing" from the zero time to now at an
	// unbounded rate, then set the policy's rate at now: full however long
	// the policy's window (a limiter merely left at the zero time fills at
	// the policy's rate over at most the 292 years a Duration holds).
	e.lim.SetBurstAt(time.Time{}, l.policy.Burst)
	e.lim.SetLimitAt(time.Time{}, rate.Inf)
	e.lim.SetLimitAt(now, l.policy.Limit)
	if n := len(s.free); n > 0 {
		e.frame = s.free[n-1]
		s.free = s.free[:n-1]
		s.ring[e.frame] = e
	} else {
		e.frame = len(s.ring)
		s.ring = append(s.ring, e)
	}
	for i := h & t.mask(); ; i = (i + 1) & t.mask() {
		switch t.slots[i].Load() {
		case nil:
			s.used++
			t.slots[i].Store(e)
			return e
		case tombstone:
			t.slots[i].Store(e)
			return e
		}
	}
}

// isIdle reports whether e was last used the idle timeout or longer before
// nanos.
func (l *Local) isIdle(e *entry, nanos int64) bool {
	return nanos-e.last.Load() >= l.idle+lastGrain
}

// evict removes one entry from s, which holds at least one: the first one
// the CLOCK hand finds idle or unused since it last passed, clearing the
// used mark of the others it passes. A new key starts unmarked, so a key
// used only once goes first; it takes the freed frame, just behind the
// hand, so it has a whole turn to be used again. Decisions may
// mark keys used again meanwhile, so after two turns of the ring the hand
// takes the next entry it finds.
func (s *shard) evict(l *Local, t *table, nanos int64) {
	for step := 0; ; step++ {
		s.hand %= len(s.ring)
		e := s.ring[s.hand]
		s.hand++
		if e == nil {
			continue
		}
		if step >= 2*len(s.ring) || (l.idle > 0 && l.isIdle(e, nanos)) || !e.used.Load() {
			s.remove(t, e)
			return
		}
		e.used.Store(false)
		if l.passed != nil {
			l.passed(e)
		}
	}
}

// remove takes e out of t, where it is live, and out of the ring, and
// marks it dead.
func (s *shard) remove(t *table, e *entry) {
	e.dead.Store(true)
	for i := e.hash & t.mask(); ; i = (i + 1) & t.mask() {
		if t.slots[i].Load() == e {
			t.slots[i].Store(tombstone)
			break
		}
	}
	s.ring[e.frame] = nil
	s.free = append(s.free, e.frame)
}

// rebuild replaces t with a table holding s's live entries, sized so they
// fill less than half of it but never smaller than t (the tombstones go),
// and returns it. Decisions still reading t find what they found before.
func (s *shard) rebuild(t *table) *table {
	live := len(s.ring) - len(s.free)
	size := len(t.slots)
	for size < 2*(live+1) {
		size *= 2
	}
	nt := newTable(size)
	for _, e := range s.ring {
		if e == nil {
			continue
		}
		j := e.hash & nt.mask()
		for nt.slots[j].Load() != nil {
			j = (j + 1) & nt.mask()
		}
		nt.slots[j].Store(e)
	}
	s.used = live
	s.publish(nt)
	return nt
}
