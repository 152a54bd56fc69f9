package grpchealth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

const (
	// DefaultProbeTimeout is how long a probe may run before it counts as
	// failed, unless [WithProbeTimeout] says otherwise.
	DefaultProbeTimeout = time.Second
	// DefaultProbeInterval is the pause between two runs of a probe, unless
	// [WithProbeInterval] says otherwise.
	DefaultProbeInterval = 10 * time.Second
)

// ErrProbeTimeout is the error recorded for a probe that ran longer than its
// timeout; it is also the cause (context.Cause) of the probe's context.
var ErrProbeTimeout = errors.New("grpchealth: probe timed out")

// Clock is the time source of the probe loops. Tests may supply one to drive
// probe intervals and timeouts by hand; the default uses package time.
type Clock interface {
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ProbeOption configures one probe.
type ProbeOption interface {
	applyProbe(*probeConfig)
}

type probeConfig struct {
	timeout  time.Duration
	interval time.Duration
	clock    Clock
}

type probeOptionFunc func(*probeConfig)

func (f probeOptionFunc) applyProbe(c *probeConfig) { f(c) }

// WithProbeTimeout bounds each run of the probe (default
// [DefaultProbeTimeout]). When it passes, the probe's context is canceled
// with [ErrProbeTimeout] and the probe counts as failed at once, even if its
// function has not returned yet. Values of zero or less keep the default.
func WithProbeTimeout(d time.Duration) ProbeOption {
	return probeOptionFunc(func(c *probeConfig) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithProbeInterval sets the pause between the end of one run of the probe
// and the start of the next (default [DefaultProbeInterval]). Values of zero
// or less keep the default.
func WithProbeInterval(d time.Duration) ProbeOption {
	return probeOptionFunc(func(c *probeConfig) {
		if d > 0 {
			c.interval = d
		}
	})
}

// WithProbeClock sets the clock that times the probe's interval and timeout
// (default: package time).
func WithProbeClock(clock Clock) ProbeOption {
	return probeOptionFunc(func(c *probeConfig) {
		if clock != nil {
			c.clock = clock
		}
	})
}

// probe is one registered check. Its result fields are guarded by the
// owning StaticChecker's mutex.
type probe struct {
	name     string
	service  string
	liveness bool
	check    func(context.Context) error
	cfg      probeConfig

	ran bool
	err error
}

// healthy reports whether the probe counts as passing: a readiness probe
// must have passed its last run, a liveness probe must not have failed it
// (one that has not run yet does not restart a process).
func (p *probe) healthy() bool {
	if !p.ran {
		return p.liveness
	}
	return p.err == nil
}

// probeSet holds a StaticChecker's probes and their goroutines. Guarded by
// the StaticChecker's mutex, except wg.
type probeSet struct {
	readiness map[string][]*probe
	liveness  []*probe
	ctx       context.Context
	cancel    context.CancelFunc
	closed    bool
	wg        sync.WaitGroup
}

// failing reports whether any readiness probe of service is not healthy.
func (s *probeSet) failing(service string) bool {
	for _, p := range s.readiness[service] {
		if !p.healthy() {
			return true
		}
	}
	return false
}

// failingNames lists the names of the probes that are not healthy.
func failingNames(probes []*probe) []string {
	var names []string
	for _, p := range probes {
		if !p.healthy() {
			names = append(names, p.name)
		}
	}
	return names
}

// AddProbe registers a readiness probe of service (the empty name is the
// whole server) and starts running it in the background at once: check is
// called with a context bounded by the probe's timeout, then again after
// each interval. The result is cached; Check, Watch and the HTTP handlers
// only read it, so a slow or hung probe never blocks them.
//
// The service is StatusNotServing until every one of its probes has passed
// its latest run (so it turns ready only once its dependencies answered),
// and otherwise has the status given to SetStatus. AddProbe registers the
// service as StatusServing when it is not known yet (StatusNotServing during
// a Shutdown, which Resume then serves like any other). A check that panics
// counts as failed. Check functions must return once their context is done:
// [StaticChecker.Close] waits for them.
//
// AddProbe panics if check is nil. After Close, it registers nothing.
func (c *StaticChecker) AddProbe(service, name string, check func(context.Context) error, options ...ProbeOption) {
	c.addProbe(service, name, false, check, options)
}

// AddLivenessProbe registers a liveness probe: one whose failure means the
// process should be restarted (a deadlock detector, say), as opposed to a
// readiness probe that takes it out of load balancing. Liveness probes only
// drive [StaticChecker.LivenessHandler]; they never change the gRPC
// statuses. A liveness probe that has not finished its first run counts as
// passing. Timeout, interval and background running are as for AddProbe.
func (c *StaticChecker) AddLivenessProbe(name string, check func(context.Context) error, options ...ProbeOption) {
	c.addProbe("", name, true, check, options)
}

func (c *StaticChecker) addProbe(service, name string, liveness bool, check func(context.Context) error, options []ProbeOption) {
	if check == nil {
		panic("grpchealth: nil probe check")
	}
	p := &probe{
		name:     name,
		service:  service,
		liveness: liveness,
		check:    check,
		cfg:      probeConfig{timeout: DefaultProbeTimeout, interval: DefaultProbeInterval, clock: realClock{}},
	}
	for _, opt := range options {
		opt.applyProbe(&p.cfg)
	}
	c.mu.Lock()
	defer c.unlockAndNotify()
	s := &c.probes
	if s.closed {
		return
	}
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	if liveness {
		s.liveness = append(s.liveness, p)
	} else {
		if s.readiness == nil {
			s.readiness = make(map[string][]*probe)
		}
		s.readiness[service] = append(s.readiness[service], p)
		if _, ok := c.statuses[service]; !ok && service != "" {
			// A new service is registered even during a Shutdown (as
			// NotServing), so that Resume, which sets the services it
			// knows, serves it too.
			status := StatusServing
			if c.shutdown {
				status = StatusNotServing
			}
			c.setLocked(service, status)
		} else {
			c.notifyLocked(service)
		}
	}
	s.wg.Add(1)
	go c.runProbe(s.ctx, p)
}

// Close stops every probe and waits for their goroutines, including checks
// still running, to return. The statuses stay as they are. It also ends the
// Watch streams of the handler serving c, each once it has sent the latest
// status, and makes later Watch calls end after their first status, so
// that an HTTP server's graceful Shutdown does not wait for watchers (call
// Shutdown first, so they see NOT_SERVING). Close is safe to call more than
// once and always returns nil.
func (c *StaticChecker) Close() error {
	c.mu.Lock()
	c.probes.closed = true
	cancel := c.probes.cancel
	if c.done == nil {
		c.done = make(chan struct{})
	}
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.probes.wg.Wait()
	return nil
}

func (c *StaticChecker) runProbe(ctx context.Context, p *probe) {
	defer c.probes.wg.Done()
	for {
		if !c.probeOnce(ctx, p) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-p.cfg.clock.After(p.cfg.interval):
		}
	}
}

// probeOnce runs p once and records the result. It returns false when ctx
// is done.
func (c *StaticChecker) probeOnce(ctx context.Context, p *probe) bool {
	callCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- callProbe(callCtx, p.check) }()
	select {
	case err := <-done:
		if ctx.Err() != nil {
			return false
		}
		c.recordProbe(p, err)
		return true
	case <-p.cfg.clock.After(p.cfg.timeout):
		cancel(ErrProbeTimeout)
		c.recordProbe(p, ErrProbeTimeout)
		// Wait for the late check, so runs of one probe never overlap and
		// Close leaves no goroutine behind.
		<-done
		return ctx.Err() == nil
	case <-ctx.Done():
		cancel(ctx.Err())
		<-done
		return false
	}
}

func callProbe(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("grpchealth: probe panicked: %v", r)
		}
	}()
	return check(ctx)
}

func (c *StaticChecker) recordProbe(p *probe, err error) {
	c.mu.Lock()
	defer c.unlockAndNotify()
	if p.liveness {
		p.ran, p.err = true, err
		return
	}
	before, _ := c.lookupLocked(p.service)
	p.ran, p.err = true, err
	if after, _ := c.lookupLocked(p.service); after != before {
		c.notifyLocked(p.service)
	}
}
