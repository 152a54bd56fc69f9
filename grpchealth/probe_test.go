package grpchealth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// fakeClock is a Clock moved by hand.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Duration
	waiters   []fakeWaiter
	requested []time.Duration // every d passed to After, in order
}

type fakeWaiter struct {
	at time.Duration
	ch chan time.Time
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.requested = append(c.requested, d)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now + d, ch: ch})
	return ch
}

// Requested returns the durations passed to After so far.
func (c *fakeClock) Requested() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.requested...)
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += d
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at <= c.now {
			w.ch <- time.Unix(0, 0).Add(c.now)
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// switchable is a probe whose result the test sets.
type switchable struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int64
}

func (s *switchable) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *switchable) check(context.Context) error {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func statusOfService(t *testing.T, c grpchealth.Checker, service string) grpchealth.Status {
	t.Helper()
	res, err := c.Check(context.Background(), &grpchealth.CheckRequest{Service: service})
	assert.NoError(t, err)
	return res.Status
}

// waitStatus advances clk (one interval at a time) until service has want.
func waitStatus(t *testing.T, c *grpchealth.StaticChecker, clk *fakeClock, service string, want grpchealth.Status) {
	t.Helper()
	eventually(t, service+" is "+want.String(), func() bool {
		if statusOfService(t, c, service) == want {
			return true
		}
		clk.Advance(time.Second)
		return false
	})
}

func probeOptions(clk *fakeClock) []grpchealth.ProbeOption {
	return []grpchealth.ProbeOption{
		grpchealth.WithProbeClock(clk),
		grpchealth.WithProbeInterval(time.Second),
		grpchealth.WithProbeTimeout(time.Hour),
	}
}

// TestProbesAggregate: several probes of one service make its status; any
// failure makes it NOT_SERVING, and watchers over the wire see it.
func TestProbesAggregate(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker()
	defer checker.Close()
	db, cache := &switchable{}, &switchable{}
	checker.AddProbe(pingService, "db", db.check, probeOptions(clk)...)
	checker.AddProbe(pingService, "cache", cache.check, probeOptions(clk)...)
	waitStatus(t, checker, clk, pingService, grpchealth.StatusServing)
	assert.Equal(t, statusOfService(t, checker, ""), grpchealth.StatusServing) // per-service probes leave "" alone

	srv := testkit.NewServer(t, newMux(checker), testkit.H2C)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	events := grpchealth.NewClient(srv.Client, srv.URL, connect.WithGRPC()).Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
	assert.Equal(t, next(t, events), grpchealth.StatusServing)

	cache.set(errors.New("cache down"))
	waitStatus(t, checker, clk, pingService, grpchealth.StatusNotServing)
	assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
	cache.set(nil)
	waitStatus(t, checker, clk, pingService, grpchealth.StatusServing)
	assert.Equal(t, next(t, events), grpchealth.StatusServing)

	// A status set by the program still counts: probes only take away.
	checker.SetStatus(pingService, grpchealth.StatusNotServing)
	assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
	cancel()
	for range events {
	}
}

// TestProbeNotReadyBeforeFirstRun: a readiness probe that has not passed yet
// keeps its service NOT_SERVING.
func TestProbeNotReadyBeforeFirstRun(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker()
	release := make(chan struct{})
	checker.AddProbe("", "slow", func(ctx context.Context) error {
		<-release
		return nil
	}, probeOptions(clk)...)
	assert.Equal(t, statusOfService(t, checker, ""), grpchealth.StatusNotServing)
	close(release)
	waitStatus(t, checker, clk, "", grpchealth.StatusServing)
	assert.NoError(t, checker.Close())
	assert.NoError(t, checker.Close()) // twice is fine
}

// TestProbeHungNeverBlocksCheck: a probe that hangs past its timeout counts
// as failed with ErrProbeTimeout (its context says so), while Check keeps
// answering at once from the cache; Close waits for the late probe.
func TestProbeHungNeverBlocksCheck(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker()
	ok := &switchable{}
	checker.AddProbe(pingService, "ok", ok.check, probeOptions(clk)...)
	waitStatus(t, checker, clk, pingService, grpchealth.StatusServing)

	causes := make(chan error, 1)
	release := make(chan struct{})
	var returned atomic.Bool
	checker.AddProbe(pingService, "hung", func(ctx context.Context) error {
		defer returned.Store(true)
		<-ctx.Done()
		select {
		case causes <- context.Cause(ctx):
		default:
		}
		<-release // ignores its context for a while longer
		return nil
	}, grpchealth.WithProbeClock(clk), grpchealth.WithProbeTimeout(5*time.Second), grpchealth.WithProbeInterval(time.Second))
	// Check answers while the probe hangs: NOT_SERVING (not ready yet).
	checked := make(chan grpchealth.Status, 100)
	go func() {
		for range 100 {
			res, err := checker.Check(context.Background(), &grpchealth.CheckRequest{Service: pingService})
			if err != nil {
				res = &grpchealth.CheckResponse{Status: grpchealth.StatusServiceUnknown}
			}
			checked <- res.Status
		}
	}()
	for range 100 {
		select {
		case status := <-checked:
			assert.Equal(t, status, grpchealth.StatusNotServing)
		case <-time.After(15 * time.Second):
			close(release)
			t.Fatal("Check blocked on a hung probe")
		}
	}
	var cause error
	eventually(t, "probe timed out", func() bool {
		select {
		case cause = <-causes:
			return true
		default:
			clk.Advance(time.Second)
			return false
		}
	})
	assert.True(t, errors.Is(cause, grpchealth.ErrProbeTimeout), cause)
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusNotServing)
	close(release)
	assert.NoError(t, checker.Close())
	assert.True(t, returned.Load(), "Close returned before the probe did")
}

// TestProbePanicCountsAsFailure: a panicking probe fails, nothing crashes.
func TestProbePanicCountsAsFailure(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker(pingService)
	defer checker.Close()
	var calls atomic.Int64
	checker.AddProbe(pingService, "boom", func(context.Context) error {
		calls.Add(1)
		panic("boom")
	}, probeOptions(clk)...)
	eventually(t, "probe ran twice", func() bool {
		clk.Advance(time.Second)
		return calls.Load() >= 2
	})
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusNotServing)
}

// TestProbeShutdownWins: during Shutdown a passing probe does not bring a
// service back; Resume does.
func TestProbeShutdownWins(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker()
	defer checker.Close()
	db := &switchable{}
	checker.AddProbe(pingService, "db", db.check, probeOptions(clk)...)
	waitStatus(t, checker, clk, pingService, grpchealth.StatusServing)
	checker.Shutdown()
	before := db.calls.Load()
	eventually(t, "probe ran again", func() bool {
		clk.Advance(time.Second)
		return db.calls.Load() > before+1
	})
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusNotServing)
	checker.Resume()
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusServing)
}

// TestProbeAddedDuringShutdown: a service whose probe is added while the
// checker is shut down (a component starting during a drain) is known at
// once, NotServing, and Resume serves it with the others.
func TestProbeAddedDuringShutdown(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	checker := grpchealth.NewStaticChecker()
	defer checker.Close()
	checker.Shutdown()
	db := &switchable{}
	checker.AddProbe(pingService, "db", db.check, probeOptions(clk)...)
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusNotServing)
	checker.Resume()
	waitStatus(t, checker, clk, pingService, grpchealth.StatusServing)
}

// TestProbeAfterCloseIsIgnored: AddProbe after Close starts nothing.
func TestProbeAfterCloseIsIgnored(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	assert.NoError(t, checker.Close())
	var calls atomic.Int64
	checker.AddProbe(pingService, "late", func(context.Context) error { calls.Add(1); return nil })
	assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusServing)
	assert.Equal(t, calls.Load(), int64(0))
}

// TestProbeTimeoutAndInterval: each run is bounded by the probe's timeout
// and followed by a pause of its interval (the defaults when unset or not
// positive); the result is cached, so Checks never run the probe.
func TestProbeTimeoutAndInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		options           []grpchealth.ProbeOption
		timeout, interval time.Duration
	}{
		{"set", []grpchealth.ProbeOption{grpchealth.WithProbeTimeout(3 * time.Second), grpchealth.WithProbeInterval(7 * time.Second)}, 3 * time.Second, 7 * time.Second},
		{"default", nil, grpchealth.DefaultProbeTimeout, grpchealth.DefaultProbeInterval},
		{"not_positive", []grpchealth.ProbeOption{grpchealth.WithProbeTimeout(0), grpchealth.WithProbeInterval(-time.Second)}, grpchealth.DefaultProbeTimeout, grpchealth.DefaultProbeInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{}
			checker := grpchealth.NewStaticChecker()
			defer checker.Close()
			db := &switchable{}
			checker.AddProbe(pingService, "db", db.check, append(tc.options, grpchealth.WithProbeClock(clk))...)
			eventually(t, "first run, then the pause", func() bool { return len(clk.Requested()) == 2 })
			assert.Equal(t, clk.Requested(), []time.Duration{tc.timeout, tc.interval})
			assert.Equal(t, db.calls.Load(), int64(1))
			for range 100 {
				assert.Equal(t, statusOfService(t, checker, pingService), grpchealth.StatusServing)
			}
			assert.Equal(t, db.calls.Load(), int64(1)) // cached: Check ran no probe
			clk.Advance(tc.interval - 1)
			assert.Equal(t, len(clk.Requested()), 2) // not due yet
			clk.Advance(1)
			eventually(t, "second run", func() bool { return db.calls.Load() == 2 })
			eventually(t, "second pause", func() bool { return len(clk.Requested()) == 4 })
			assert.Equal(t, clk.Requested()[2:], []time.Duration{tc.timeout, tc.interval})
		})
	}
}
