package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the default bound on the number of keys a [Local]
// limiter tracks.
const DefaultMaxKeys = 100_000

// Local is an in-memory [Limiter] with one golang.org/x/time/rate token
// bucket per key.
//
// Memory is bounded: Local tracks at most MaxKeys keys (see [WithMaxKeys]).
// A key unused for the idle timeout (see [WithIdleTimeout]; by default the
// policy's Window, after which its bucket would be full anyway) is evicted
// without changing any decision; keys are spread over up to 64 shards, and
// each shard forgets its idle keys when it next adds one. When the bound is reached and no key is
// idle, the least recently used key is evicted to make room: its bucket
// starts full if it returns. An attacker rotating keys therefore cannot grow
// memory, but can, at the bound, make other keys forget what they spent; size
// MaxKeys well above the number of clients active within one Window.
//
// Local is safe for concurrent use. A decision for a known key does not
// allocate.
type Local struct {
	policy   Policy
	idle     int64 // nanoseconds; <= 0 means never idle-evict
	perShard int
	seed     maphash.Seed
	shards   []shard
}

// shard is one lock's share of the keys. Its map is keyed by the key's
// 64-bit hash, which also picked the shard, so a decision hashes its key
// once; keys whose hashes collide (with a random seed, about one pair in
// 10^10 at 100,000 keys) share a map slot through a chain.
type shard struct {
	mu         sync.Mutex
	m          map[uint64]*entry
	n          int    // entries, chained ones included
	head, tail *entry // most and least recently used
	_          [32]byte
}

type entry struct {
	key        string
	hash       uint64
	same       *entry // the next entry whose key has the same hash
	last       int64  // UnixNano of the last decision
	prev, next *entry
	lim        rate.Limiter
}

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
// it. The default, the policy's Window, never changes a decision, since a
// bucket left alone that long is full again. A shorter timeout saves memory
// at the price of forgiving clients early; zero or less keeps keys until the
// MaxKeys bound pushes them out.
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
	n := 1
	for n < 64 && cfg.maxKeys/(n*2) >= 256 {
		n *= 2
	}
	l := &Local{
		policy:   policy,
		idle:     int64(cfg.idle),
		perShard: cfg.maxKeys / n,
		seed:     maphash.MakeSeed(),
		shards:   make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[uint64]*entry)
	}
	return l
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
		total += s.n
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

// take spends n tokens from key's bucket at now if it holds them, and
// reports whether it did and, unless the call was allowed and full is
// false, the tokens left.
func (l *Local) take(now time.Time, key string, n int, full bool) (allowed bool, tokens float64) {
	return l.takeHashed(now, key, maphash.String(l.seed, key), n, full)
}

// takeHashed is take for a key whose hash is h.
func (l *Local) takeHashed(now time.Time, key string, h uint64, n int, full bool) (allowed bool, tokens float64) {
	n = max(n, 0)
	s := &l.shards[h&uint64(len(l.shards)-1)]
	nanos := now.UnixNano()
	s.mu.Lock()
	e := s.m[h]
	for e != nil && e.key != key {
		e = e.same
	}
	if e == nil {
		e = l.insert(s, key, h, nanos)
	} else if s.head != e {
		s.touch(e)
	}
	e.last = nanos
	allowed = e.lim.AllowN(now, n)
	if allowed && !full {
		s.mu.Unlock()
		return true, 0
	}
	tokens = e.lim.TokensAt(now)
	s.mu.Unlock()
	return allowed, tokens
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

// insert adds key to s, evicting idle keys, and the least recently used one
// when s is full. It recycles an evicted entry when it can.
func (l *Local) insert(s *shard, key string, h uint64, nanos int64) *entry {
	var spare *entry
	for s.tail != nil && l.idle > 0 && nanos-s.tail.last >= l.idle {
		spare = s.evict(s.tail)
	}
	if s.n >= l.perShard && s.tail != nil {
		spare = s.evict(s.tail)
	}
	e := spare
	if e == nil {
		e = &entry{}
	} else {
		*e = entry{lim: rate.Limiter{}} // keeps vet quiet: the zero limiter, not a copy
	}
	e.key, e.hash = strings.Clone(key), h
	// A limiter whose last update is the zero time is full at its first
	// decision: set burst, then limit, both "at" the zero time.
	e.lim.SetBurstAt(time.Time{}, l.policy.Burst)
	e.lim.SetLimitAt(time.Time{}, l.policy.Limit)
	e.same = s.m[h]
	s.m[h] = e
	s.n++
	s.pushFront(e)
	return e
}

func (s *shard) evict(e *entry) *entry {
	s.unlink(e)
	switch first := s.m[e.hash]; {
	case first == e && e.same == nil:
		delete(s.m, e.hash)
	case first == e:
		s.m[e.hash] = e.same
	default:
		for p := first; p != nil; p = p.same {
			if p.same == e {
				p.same = e.same
				break
			}
		}
	}
	e.same = nil
	s.n--
	return e
}

func (s *shard) touch(e *entry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
