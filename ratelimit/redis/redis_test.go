package redis_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
	"github.com/connectware/connectware/ratelimit/redis"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// decide fails the test if a decision hangs: it must come back within the
// limiter's timeout, and certainly within ten seconds.
func decide(t *testing.T, l ratelimit.Limiter, now time.Time, key string) (ratelimit.Decision, error) {
	t.Helper()
	type result struct {
		d   ratelimit.Decision
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := l.AllowN(context.Background(), now, key, 1)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.d, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("decision hung")
		return ratelimit.Decision{}, nil
	}
}

func TestTokenBucketSemantics(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	l := redis.New(srv.client(t), ratelimit.Policy{Name: "p", Limit: 1, Burst: 3}, redis.WithCallerClock())
	for i := range 3 {
		d, err := decide(t, l, t0, "k")
		assert.NoError(t, err)
		assert.True(t, d.Allowed, i)
		assert.Equal(t, d.Remaining, int64(2-i))
	}
	d, err := decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.True(t, !d.Allowed)
	assert.Equal(t, d.Remaining, int64(0))
	assert.Equal(t, d.RetryAfter, time.Second)
	assert.Equal(t, d.Reset, 3*time.Second)
	assert.Equal(t, d.Policy.Name, "p")
	d, _ = decide(t, l, t0.Add(999*time.Millisecond), "k")
	assert.True(t, !d.Allowed, "not refilled yet")
	d, _ = decide(t, l, t0.Add(time.Second), "k")
	assert.True(t, d.Allowed, "one token after one second")
	d, _ = decide(t, l, t0, "other")
	assert.True(t, d.Allowed, "other keys have their own bucket")

	d, err = l.AllowN(context.Background(), t0, "big", 4)
	assert.NoError(t, err)
	assert.True(t, !d.Allowed, "a cost above the burst is never allowed")
	assert.Equal(t, d.RetryAfter, 3*time.Second)
}

// TestReplicasShareOneLimit: two limiters with their own connections, as
// two replicas would have, spend one bucket per key.
func TestReplicasShareOneLimit(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	policy := ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 5}
	a := redis.New(srv.client(t), policy)
	b := redis.New(srv.client(t), policy)
	allowed := 0
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := decide(t, l, time.Now(), "client-1")
		assert.NoError(t, err)
		if d.Allowed {
			allowed++
		}
	}
	assert.Equal(t, allowed, 5)
}

// TestServerClock: two replicas whose clocks disagree by a second share a
// policy of 100 tokens a second, burst 200. The one ahead spends 100
// tokens, then the one behind asks for the other 100. On the Redis server's
// clock it gets them. With WithCallerClock it finds the bucket a second
// "fuller" than its clock says, so it is denied until its clock catches up.
func TestServerClock(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	policy := ratelimit.Policy{Limit: 100, Burst: 200}
	const skew = time.Second
	for _, c := range []struct {
		name   string
		opts   []redis.Option
		behind bool
	}{
		{"server_clock", nil, true},
		{"caller_clock", []redis.Option{redis.WithCallerClock()}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ahead := redis.New(srv.client(t), policy, c.opts...)
			behind := redis.New(srv.client(t), policy, c.opts...)
			d, err := ahead.AllowN(context.Background(), time.Now().Add(skew), c.name, 100)
			assert.NoError(t, err)
			assert.True(t, d.Allowed)
			d, err = behind.AllowN(context.Background(), time.Now(), c.name, 100)
			assert.NoError(t, err)
			assert.Equal(t, d.Allowed, c.behind)
		})
	}
}

// TestKeysUseHashTags: the Redis key wraps the limiting key in a hash tag
// and expires when the bucket would be full.
func TestKeysUseHashTags(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := srv.client(t)
	l := redis.New(c, ratelimit.Policy{Name: "api", Limit: 1, Burst: 10})
	assert.Equal(t, l.Key("alice"), "ratelimit:api:{alice}")
	_, err := l.AllowN(context.Background(), time.Now(), "alice", 1)
	assert.NoError(t, err)
	ttl, err := c.PTTL(context.Background(), "ratelimit:api:{alice}").Result()
	assert.NoError(t, err)
	assert.True(t, ttl > 0 && ttl <= time.Second, ttl.String())
	custom := redis.New(c, ratelimit.Policy{Limit: 1}, redis.WithPrefix("svc:"))
	assert.Equal(t, custom.Key("k"), "svc:{k}")
	// Braces before the limiting key would be every key's hash tag.
	braced := redis.New(c, ratelimit.Policy{Name: "a{b}", Limit: 1})
	assert.Equal(t, braced.Key("k"), "ratelimit:a(b):{k}")
	braced = redis.New(c, ratelimit.Policy{Limit: 1}, redis.WithPrefix("{svc}:"))
	assert.Equal(t, braced.Key("k"), "(svc):{k}")
}

// TestScriptFlushFallsBackToEval: after SCRIPT FLUSH, EVALSHA fails with
// NOSCRIPT and the limiter still decides.
func TestScriptFlushFallsBackToEval(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := srv.client(t)
	l := redis.New(c, ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1})
	d, err := decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.NoError(t, c.ScriptFlush(context.Background()).Err())
	d, err = decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.True(t, !d.Allowed, "state survived, script reloaded")
}

// TestRedisFailure kills, freezes and restarts Redis under each failure
// policy: decisions come back within the timeout with the chosen answer,
// and limiting resumes when Redis does.
func TestRedisFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		policy  redis.FailurePolicy
		allowed bool
	}{
		{"fail_open", redis.FailOpen, true},
		{"fail_closed", redis.FailClosed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startRedis(t)
			l := redis.New(srv.client(t), ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1},
				redis.WithTimeout(100*time.Millisecond), redis.WithFailurePolicy(tc.policy))
			d, err := decide(t, l, time.Now(), "k")
			assert.NoError(t, err)
			assert.True(t, d.Allowed)

			srv.pause()
			for range 3 {
				start := time.Now()
				d, err = decide(t, l, time.Now(), "k")
				elapsed := time.Since(start)
				assert.Error(t, err, "frozen Redis")
				assert.Equal(t, d.Allowed, tc.allowed)
				// The client's ReadTimeout is 3s: only the limiter's own
				// timeout can end the decision this soon (the margin is
				// for a loaded machine running the race detector).
				assert.True(t, elapsed >= 100*time.Millisecond && elapsed < 2500*time.Millisecond, "decision took "+elapsed.String())
			}
			srv.resume()
			d, err = decide(t, l, time.Now(), "k")
			assert.NoError(t, err)
			assert.True(t, !d.Allowed, "state kept while frozen")

			srv.kill()
			for range 3 {
				start := time.Now()
				d, err = decide(t, l, time.Now(), "k")
				elapsed := time.Since(start)
				assert.Error(t, err, "dead Redis")
				assert.Equal(t, d.Allowed, tc.allowed)
				assert.True(t, elapsed < 2500*time.Millisecond, "decision took "+elapsed.String())
			}

			srv.start() // empty: the restarted Redis lost every bucket
			var last ratelimit.Decision
			for range 50 { // the pool may first hand out dead connections
				if last, err = decide(t, l, time.Now(), "k"); err == nil {
					break
				}
			}
			assert.NoError(t, err, "limiting resumes")
			assert.True(t, last.Allowed)
			d, err = decide(t, l, time.Now(), "k")
			assert.NoError(t, err)
			assert.True(t, !d.Allowed, "limiting resumes")
		})
	}
}

// TestMiddlewareWithRedis runs the HTTP middleware on a Redis limiter over
// the protocol matrix, and checks that a dead Redis under FailClosed gives
// clients Unavailable.
func TestMiddlewareWithRedis(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	closed := redis.New(srv.client(t), ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1},
		redis.WithFailurePolicy(redis.FailClosed))
	mw := ratelimit.NewMiddleware(closed, ratelimit.WithKey(ratelimit.KeyHeader("X-Test-Case")))
	testkit.Matrix(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), func(t *testing.T, c testkit.Case) {
		for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeServer} {
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				h := http.Header{"X-Test-Case": {t.Name()}}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _, err := testkit.Call(ctx, c.Client(), st, h)
				assert.NoError(t, err)
				_, _, err = testkit.Call(ctx, c.Client(), st, h)
				assert.Code(t, err, connect.CodeResourceExhausted)
			})
		}
	})
	srv.kill()
	httpSrv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err := testkit.Call(ctx, testkit.NewClient(httpSrv, p), connect.StreamTypeUnary, http.Header{"X-Test-Case": {"dead"}})
		cancel()
		assert.Code(t, err, connect.CodeUnavailable, p.String())
		assert.True(t, strings.Contains(err.Error(), "unavailable"))
	}
	assert.True(t, mw.Stats().Errors >= 3)
}

// commandLog is a go-redis hook that records the commands a client sends,
// with the error each got.
type commandLog struct {
	mu   sync.Mutex
	cmds []string
}

func (h *commandLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *commandLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		entry := cmd.Name()
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			entry += ":NOSCRIPT"
		}
		h.mu.Lock()
		h.cmds = append(h.cmds, entry)
		h.mu.Unlock()
		return err
	}
}

func (h *commandLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.mu.Lock()
		h.cmds = append(h.cmds, "pipeline")
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands logged since the last call.
func (h *commandLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	cmds := h.cmds
	h.cmds = nil
	return cmds
}

// TestOneRoundTripPerDecision: once Redis has the script, each decision is
// a single EVALSHA; when Redis has lost it (a restart, SCRIPT FLUSH), the
// NOSCRIPT reply is followed by one EVAL, which caches it again.
func TestOneRoundTripPerDecision(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := srv.client(t)
	log := &commandLog{}
	c.AddHook(log)
	l := redis.New(c, ratelimit.Policy{Limit: 1000, Burst: 1000})
	// Open the connection first: its handshake is not the decisions' cost.
	assert.NoError(t, c.Ping(context.Background()).Err())
	log.take()
	_, err := decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.Equal(t, strings.Join(log.take(), " "), "evalsha:NOSCRIPT eval", "first decision loads the script")
	for i := range 5 {
		_, err := decide(t, l, t0, "k"+strconv.Itoa(i))
		assert.NoError(t, err)
		assert.Equal(t, strings.Join(log.take(), " "), "evalsha", "one round trip")
	}
	assert.NoError(t, c.ScriptFlush(context.Background()).Err())
	log.take()
	_, err = decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.Equal(t, strings.Join(log.take(), " "), "evalsha:NOSCRIPT eval", "fallback after SCRIPT FLUSH")
	_, err = decide(t, l, t0, "k")
	assert.NoError(t, err)
	assert.Equal(t, strings.Join(log.take(), " "), "evalsha", "cached again")
}

// TestRedisKilledUnderLoad kills Redis while callers are deciding: every
// decision comes back within the timeout (plus scheduling slack), with the
// failure policy's answer once Redis is gone, and limiting resumes when a
// new Redis answers on the same port.
func TestRedisKilledUnderLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		policy  redis.FailurePolicy
		allowed bool
	}{
		{"fail_open", redis.FailOpen, true},
		{"fail_closed", redis.FailClosed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 200 * time.Millisecond
			srv := startRedis(t)
			l := redis.New(srv.client(t), ratelimit.Policy{Limit: 1e6, Burst: 1e6},
				redis.WithTimeout(timeout), redis.WithFailurePolicy(tc.policy))
			var (
				wg                 sync.WaitGroup
				stop               atomic.Bool
				decided, failed    atomic.Int64
				slowest            atomic.Int64
				wrongAnswer, fails atomic.Int64
			)
			for w := range 8 {
				wg.Go(func() {
					key := "worker-" + strconv.Itoa(w)
					for !stop.Load() {
						start := time.Now()
						d, err := l.AllowN(context.Background(), time.Now(), key, 1)
						elapsed := int64(time.Since(start))
						for prev := slowest.Load(); elapsed > prev && !slowest.CompareAndSwap(prev, elapsed); prev = slowest.Load() {
						}
						decided.Add(1)
						if err != nil {
							failed.Add(1)
							if d.Allowed != tc.allowed {
								wrongAnswer.Add(1)
							}
						} else if !d.Allowed {
							fails.Add(1) // the limit is far away: never denied
						}
					}
				})
			}
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						stop.Store(true)
						wg.Wait()
						t.Fatalf("timed out waiting for %s", what)
					}
				}
			}
			waitFor("decisions", func() bool { return decided.Load() > 50 })
			assert.Equal(t, failed.Load(), int64(0), "Redis is up")
			srv.kill()
			before := failed.Load()
			waitFor("failed decisions", func() bool { return failed.Load() > before+50 })
			srv.start()
			waitFor("recovery", func() bool {
				d, err := l.AllowN(context.Background(), time.Now(), "probe", 1)
				return err == nil && d.Allowed
			})
			stop.Store(true)
			wg.Wait()
			assert.Equal(t, wrongAnswer.Load(), int64(0), "failed decisions follow the failure policy")
			assert.Equal(t, fails.Load(), int64(0))
			assert.True(t, time.Duration(slowest.Load()) < timeout+2*time.Second,
				"slowest decision took "+time.Duration(slowest.Load()).String())
		})
	}
}

// TestRemainingExact spends a full bucket at one instant, for rates whose
// interval is not a whole number of microseconds: each decision must count
// exactly what is left, and the bucket must give exactly Burst tokens.
// (Times near 1.8e15 microseconds are a quarter microsecond apart as
// doubles, which once cost a token in the remaining count.)
func TestRemainingExact(t *testing.T) {
	t.Parallel()
	client := startRedis(t).client(t)
	for _, p := range []ratelimit.Policy{{Limit: 7, Burst: 4}, {Limit: 3, Burst: 10}, {Limit: 1000.0 / 7, Burst: 5}, {Limit: 0.3, Burst: 3}} {
		l := redis.New(client, p, redis.WithCallerClock())
		key := strconv.FormatFloat(float64(p.Limit), 'g', -1, 64)
		left := p.Burst
		for _, cost := range []int{1, 2, 1, 3, 2, 1, 1} {
			d, err := l.AllowN(context.Background(), t0, key, cost)
			assert.NoError(t, err)
			assert.Equal(t, d.Allowed, cost <= left, key, "cost", cost, "of", left)
			if d.Allowed {
				left -= cost
			}
			assert.Equal(t, d.Remaining, int64(left), key, "remaining")
		}
	}
}

// TestAgreesWithLocal makes the same random decisions (costs 1 to 3, times
// a random number of milliseconds apart) through the Redis limiter and
// through ratelimit.Local: they must allow and deny alike.
func TestAgreesWithLocal(t *testing.T) {
	t.Parallel()
	client := startRedis(t).client(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []ratelimit.Policy{{Limit: 7, Burst: 4}, {Limit: 3, Burst: 1}, {Limit: 9, Burst: 5}, {Limit: 0.5, Burst: 2}} {
		shared := redis.New(client, p, redis.WithCallerClock())
		local := ratelimit.NewLocal(p)
		key := "agree-" + strconv.FormatFloat(float64(p.Limit), 'g', -1, 64)
		now := t0
		for i := range 300 {
			now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
			cost := 1 + rng.IntN(3)
			want, _ := local.AllowN(context.Background(), now, key, cost)
			got, err := shared.AllowN(context.Background(), now, key, cost)
			assert.NoError(t, err)
			if got.Allowed != want.Allowed {
				t.Fatalf("%s, decision %d (cost %d at +%v): Redis allowed %v, Local %v", key, i, cost, now.Sub(t0), got.Allowed, want.Allowed)
			}
		}
	}
}

// TestClientWaitEndsWithContextDuringRoundTrip: a client call whose
// context ends while Redis is deciding fails with the context's code, as a
// wait that its context ends does, not with the Unavailable of a limiter
// that failed closed (which retry policies take as a reason to retry).
func TestClientWaitEndsWithContextDuringRoundTrip(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	l := redis.New(srv.client(t), ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1},
		redis.WithTimeout(5*time.Second), redis.WithFailurePolicy(redis.FailClosed))
	ic := ratelimit.NewInterceptor(l, ratelimit.WithKey(ratelimit.KeyGlobal()))
	httpSrv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	client := testkit.NewClient(httpSrv, testkit.ConnectProto, connect.WithInterceptors(ic))
	srv.pause()
	defer srv.resume()
	for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeServer} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, _, err := testkit.Call(ctx, client, st, nil)
		cancel()
		assert.Code(t, err, connect.CodeDeadlineExceeded, st.String())
	}
}

// TestCallerGoneIsNoLimiterError: a handler call whose caller leaves while
// Redis is deciding is not counted or reported as a failure of the
// limiter (Stats.Errors, WithOnError), in the middleware and the
// interceptor: callers that give up would otherwise look like a Redis
// outage.
func TestCallerGoneIsNoLimiterError(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	l := redis.New(srv.client(t), ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1},
		redis.WithTimeout(5*time.Second), redis.WithFailurePolicy(redis.FailClosed))
	var reported atomic.Int64
	onError := ratelimit.WithOnError(func(context.Context, *ratelimit.Call, error) { reported.Add(1) })
	mw := ratelimit.NewMiddleware(l, ratelimit.WithKey(ratelimit.KeyGlobal()), onError)
	ic := ratelimit.NewInterceptor(l, ratelimit.WithKey(ratelimit.KeyGlobal()), onError)
	srv.pause()
	defer srv.resume()
	for name, c := range map[string]struct {
		h     http.Handler
		stats func() ratelimit.Stats
	}{
		"middleware":  {mw.Wrap(testkit.NewMux(&testkit.PingServer{})), mw.Stats},
		"interceptor": {testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)), ic.Stats},
	} {
		// The handler's ServeHTTP returns once the decision is made.
		served := make(chan struct{}, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { served <- struct{}{} }()
			c.h.ServeHTTP(w, r)
		})
		httpSrv := testkit.NewServer(t, h, testkit.H2C)
		client := testkit.NewClient(httpSrv, testkit.ConnectProto)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, _, err := testkit.Call(ctx, client, connect.StreamTypeUnary, nil)
		cancel()
		// DeadlineExceeded, or Unavailable when the handler's own deadline
		// (sent in the request, so a little earlier) ends the decision
		// first and the failure policy answers.
		assert.True(t, connect.CodeOf(err) == connect.CodeDeadlineExceeded || connect.CodeOf(err) == connect.CodeUnavailable, name, err)
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal(name, ": the handler still waits for Redis")
		}
		assert.Equal(t, c.stats().Errors, uint64(0), name, "errors counted")
		assert.Equal(t, c.stats().Rejected, uint64(0), name, "rejections counted")
	}
	assert.Equal(t, reported.Load(), int64(0), "OnError calls")
}
