package ratelimit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// maxKeyLen is the longest key passed to a Limiter as is; longer keys are
// replaced by a digest.
const maxKeyLen = 128

// Stats counts decisions. On clients, Rejected counts the times a call had
// to wait (or failed, with [WithClientNoWait]).
type Stats struct {
	// Allowed counts calls (and, with [WithMessageLimiter], messages) let
	// through, not counting dry-run rejections.
	Allowed uint64
	// Rejected counts rejections, including those dry-run mode did not
	// enforce.
	Rejected uint64
	// Errors counts the times a Limiter failed to decide.
	Errors uint64
}

// clockBase anchors monotonicNow; clockBaseNanos is its UnixNano.
var (
	clockBase      = time.Now()
	clockBaseNanos = clockBase.UnixNano()
)

// monotonicNow is the time for in-process decisions, and its UnixNano:
// wall time derived from the monotonic clock alone. It reads one clock
// instead of time.Now's two (which matters where clock reads are slow, as
// on many VMs), and it never jumps when the wall clock is stepped, so a
// clock change neither refills nor drains buckets. Shared limiters (Redis)
// get time.Now, which replicas agree on.
//
// The time carries a monotonic reading, as time.Now's does, so the
// limiter compares and subtracts it by that reading alone (the cheap path
// of Time.Sub), and consistently with times from time.Now that callers
// pass to a Local themselves.
func monotonicNow() (time.Time, int64) {
	return monotonicAt(time.Since(clockBase))
}

// monotonicAt is monotonicNow's answer for a clock reading of
// time.Since(clockBase).
func monotonicAt(d time.Duration) (time.Time, int64) {
	return clockBase.Add(d), clockBaseNanos + int64(d)
}

// outcome is what a decision means for the call.
type outcome uint8

const (
	outcomeUnlimited   outcome = iota // no limiter or no key: not limited
	outcomeAllowed                    // allowed (or dry run)
	outcomeRejected                   // rejected: ResourceExhausted
	outcomeUnavailable                // the limiter failed closed: Unavailable
)

// guard holds the decisions both placements share. It knows nothing of
// connect-go's interceptor or handler types.
type guard struct {
	limiter  Limiter
	cfg      config
	quickKey stringKey // the key, when calls may take the quick path
	allowed  counter
	rejected atomic.Uint64
	errs     atomic.Uint64
	pool     sync.Pool
}

// counter is a count that calls on every core add to. It is spread over
// cells, each on its own cache line and picked by the caller (by the key's
// hash on the quick path), so that calls with different keys rarely
// contend for one line.
type counter struct {
	cells [16]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (c *counter) add(pick uint64) { c.cells[pick%uint64(len(c.cells))].n.Add(1) }

func (c *counter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}

// scratch is per-decision memory, pooled so a decision does not allocate.
type scratch struct {
	buf  []byte
	call Call
	d    Decision
	at   time.Time // when set, the time of the next Local decision
}

func newGuard(limiter Limiter, opts []Option) *guard {
	g := &guard{limiter: limiter}
	for _, o := range opts {
		o.apply(&g.cfg)
	}
	if g.cfg.key == nil {
		g.cfg.key = KeyIP()
	}
	if k, ok := g.cfg.key.(stringKey); ok && g.cfg.cost == nil && !g.cfg.allowedHeaders {
		g.quickKey = k
	}
	g.pool.New = func() any { return &scratch{buf: make([]byte, 0, 64)} }
	return g
}

func (g *guard) get() *scratch { return g.pool.Get().(*scratch) }

func (g *guard) put(s *scratch) {
	s.call, s.d, s.at = Call{}, Decision{}, time.Time{}
	if cap(s.buf) <= 1024 {
		g.pool.Put(s)
	}
}

func (g *guard) stats() Stats {
	return Stats{Allowed: g.allowed.load(), Rejected: g.rejected.Load(), Errors: g.errs.Load()}
}

// limiterFor returns the limiter for procedure, or nil when it is not
// limited.
func (g *guard) limiterFor(procedure string) Limiter {
	if g.cfg.procedures != nil {
		if l, ok := g.cfg.procedures[procedure]; ok {
			return l
		}
	}
	return g.limiter
}

func (g *guard) cost(call *Call) int {
	if g.cfg.cost == nil {
		return 1
	}
	return max(g.cfg.cost(call), 0)
}

// quick decides a handler call without describing it, when that is all
// a call needs: the limiter is a [Local], the key is a string the call
// holds (a header, an identity), the cost is one token and allowed calls
// get no RateLimit headers. It reports ok when that settles the call, with
// outcomeAllowed or outcomeUnlimited (no key). A denied call gets ok false,
// with the time of the denial in at, and goes the full way through decide
// (given at in scratch.at, so the clock is read once), which decides again
// at that time (a denial spends nothing) and has the rejection's details,
// hooks and dry run; so does every call quick cannot decide (at is zero).
//
// Quick decisions are the same on handlers and on clients (an allowed call
// goes on at once either way), so callers need not know the side.
func (g *guard) quick(ctx context.Context, h http.Header, lim Limiter) (out outcome, at time.Time, ok bool) {
	if g.quickKey == nil {
		return 0, at, false
	}
	local, isLocal := lim.(*Local)
	if !isLocal {
		return 0, at, false
	}
	// The clock is read first and its reading made into a time last,
	// though a call without a key needs neither. The read spends most of
	// its time waiting for the CPU's time counter, and the header lookup
	// and the key's hash, which do not depend on it, run meanwhile.
	// Reading the clock after the key made a decision about 8% slower in
	// quiet spells here (benchmarks/README.md). An injected clock is read
	// only for a call the limiter decides, as before.
	var since time.Duration
	if g.cfg.now == nil {
		since = time.Since(clockBase)
	}
	var k string
	var hasKey bool
	// A header key, the common case, is read by a direct call, which the
	// compiler inlines.
	if hk, isHeader := g.quickKey.(headerKey); isHeader {
		k, hasKey = hk.value(h)
	} else {
		k, hasKey = g.quickKey.keyString(ctx, h)
	}
	if !hasKey {
		return outcomeUnlimited, at, true
	}
	if len(k) > maxKeyLen {
		return 0, at, false
	}
	hash := local.hash(k)
	var nanos int64
	if g.cfg.now != nil {
		at = g.cfg.now()
		nanos = at.UnixNano()
	} else {
		at, nanos = monotonicAt(since)
	}
	if _, allowed := local.spend(at, nanos, k, hash, 1); !allowed {
		return 0, at, false
	}
	g.allowed.add(hash)
	return outcomeAllowed, time.Time{}, true
}

// decide keys s.call and asks lim to spend n tokens for it. The decision
// is left in s.d, except on the hot path (a local limiter allowing a call
// with no RateLimit headers to send), where only the outcome matters and
// s.d is left zero.
func (g *guard) decide(s *scratch, lim Limiter, n int) outcome {
	if lim == nil {
		return outcomeUnlimited
	}
	key, ok := g.cfg.key.AppendKey(s.buf[:0], &s.call)
	s.buf = key[:0]
	if !ok {
		return outcomeUnlimited
	}
	if len(key) > maxKeyLen {
		sum := sha256.Sum256(key)
		key = append(append(key[:0], '#'), sum[:]...)
	}
	// The key's memory is reused after the call; Limiter says so.
	k := unsafe.String(unsafe.SliceData(key), len(key))
	var err error
	if local, ok := lim.(*Local); ok {
		t := s.at
		switch {
		case !t.IsZero():
			s.at = time.Time{} // quick's denial time, used once
		case g.cfg.now != nil:
			t = g.cfg.now()
		default:
			t, _ = monotonicNow()
		}
		allowed, tokens := local.take(t, k, n, g.cfg.allowedHeaders)
		if allowed && !g.cfg.allowedHeaders {
			g.allowed.add(0)
			return outcomeAllowed
		}
		s.d = local.decision(allowed, tokens, n)
	} else {
		now := g.cfg.now
		if now == nil {
			now = time.Now
		}
		s.d, err = lim.AllowN(s.context(), now(), k, n)
	}
	if err != nil {
		if ctxErr := s.context().Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			// The caller left (or ran out of time) while the limiter
			// decided: no failure of the limiter's to count or report.
			// The failure policy still settles the call.
			if !s.d.Allowed && !g.cfg.dryRun {
				return outcomeUnavailable
			}
			return outcomeUnlimited
		}
		g.errs.Add(1)
		if g.cfg.onError != nil {
			g.cfg.onError(s.context(), &s.call, err)
		}
		if !s.d.Allowed {
			g.rejected.Add(1)
			if g.cfg.dryRun {
				return outcomeAllowed
			}
			return outcomeUnavailable
		}
		// Failed open: the call goes on, but there is no quota to report,
		// and reporting an empty one would hold back clients that heed it.
		g.allowed.add(0)
		return outcomeUnlimited
	}
	if !s.d.Allowed {
		g.rejected.Add(1)
		if g.cfg.onReject != nil {
			g.cfg.onReject(s.context(), &s.call, s.d)
		}
		if g.cfg.dryRun {
			return outcomeAllowed
		}
		return outcomeRejected
	}
	g.allowed.add(0)
	return outcomeAllowed
}

// context is the call's context, or context.Background() when it has none.
func (s *scratch) context() context.Context {
	if s.call.Context == nil {
		return context.Background()
	}
	return s.call.Context
}

var (
	errLimited     = errors.New("rate limit exceeded")
	errUnavailable = errors.New("rate limiter unavailable")
)

// rejection returns the error for a rejected call: ResourceExhausted (or
// Unavailable when the limiter failed closed) with a google.rpc.RetryInfo
// detail.
func rejection(d Decision, out outcome) *connect.Error {
	var err *connect.Error
	if out == outcomeUnavailable {
		err = connect.NewError(connect.CodeUnavailable, errUnavailable)
	} else {
		err = connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("%w (policy %q), retry in %ds", errLimited, d.Policy.PolicyName(), RetryAfterSeconds(d)))
	}
	if d.RetryAfter > 0 || out == outcomeRejected {
		// Whole seconds, not a Duration: a wait of centuries (a cost above
		// the burst of a long window) would overflow one.
		delay := &durationpb.Duration{Seconds: RetryAfterSeconds(d)}
		if detail, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: delay}); derr == nil {
			err.AddDetail(detail)
		}
	}
	return err
}

// RetryDelay returns the delay a rate-limit error asks the client to wait,
// from its google.rpc.RetryInfo detail, and false when it has none.
func RetryDelay(err error) (time.Duration, bool) {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return 0, false
	}
	for _, detail := range cerr.Details() {
		msg, derr := detail.Value()
		if derr != nil {
			continue
		}
		if info, ok := msg.(*errdetails.RetryInfo); ok {
			return info.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
