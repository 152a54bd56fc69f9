package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// brokenLimiter always fails to decide, answering allow: what a backend's
// failure policy does when it is down.
type brokenLimiter struct{ allow bool }

func (b brokenLimiter) AllowN(context.Context, time.Time, string, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: b.allow, RetryAfter: 2 * time.Second}, errors.New("backend down")
}

func TestLimiterFailurePolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		allow    bool
		wantCode connect.Code
	}{
		{"fail_open", true, 0},
		{"fail_closed", false, connect.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hookErrs atomic.Int64
			onErr := ratelimit.WithOnError(func(_ context.Context, _ *ratelimit.Call, err error) {
				assert.Equal(t, err.Error(), "backend down")
				hookErrs.Add(1)
			})
			mw := ratelimit.NewMiddleware(brokenLimiter{tc.allow}, onErr)
			ic := ratelimit.NewInterceptor(brokenLimiter{tc.allow}, onErr)
			for name, h := range map[string]http.Handler{
				"middleware":  mw.Wrap(testkit.NewMux(&testkit.PingServer{})),
				"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)),
			} {
				srv := testkit.NewServer(t, h, testkit.H2C)
				for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
					_, _, err := testkit.Call(callTimeout(t), testkit.NewClient(srv, p), connect.StreamTypeServer, nil)
					if tc.wantCode == 0 {
						assert.NoError(t, err, name, p.String())
						continue
					}
					assert.Code(t, err, tc.wantCode, name, p.String())
					var cerr *connect.Error
					errors.As(err, &cerr)
					assert.Equal(t, cerr.Meta().Get("Retry-After"), "2", name, p.String())
				}
			}
			assert.Equal(t, hookErrs.Load(), int64(6))
			assert.Equal(t, mw.Stats().Errors, uint64(3))
			assert.Equal(t, ic.Stats().Errors, uint64(3))
		})
	}
}

// TestFailOpenSendsNoRateLimitHeaders: a call a failing limiter let
// through has no quota to report, and reporting an empty one would make
// well-behaved clients throttle themselves for the whole outage.
func TestFailOpenSendsNoRateLimitHeaders(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(brokenLimiter{allow: true}, ratelimit.WithAllowedHeaders())
	ic := ratelimit.NewInterceptor(brokenLimiter{allow: true}, ratelimit.WithAllowedHeaders())
	for name, h := range map[string]http.Handler{
		"middleware":  mw.Wrap(testkit.NewMux(&testkit.PingServer{})),
		"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)),
	} {
		srv := testkit.NewServer(t, h, testkit.H2C)
		for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
			for _, st := range []connect.StreamType{connect.StreamTypeUnary, connect.StreamTypeServer} {
				header, _, err := testkit.Call(callTimeout(t), testkit.NewClient(srv, p), st, nil)
				assert.NoError(t, err, name, p.String())
				assert.Equal(t, header.Get(ratelimit.HeaderRateLimit), "", name, p.String(), st.String())
				assert.Equal(t, header.Get(ratelimit.HeaderRateLimitPolicy), "", name, p.String(), st.String())
			}
		}
	}
	assert.Equal(t, mw.Stats(), ratelimit.Stats{Allowed: 6, Errors: 6})
	assert.Equal(t, ic.Stats(), ratelimit.Stats{Allowed: 6, Errors: 6})
}

func TestWithCost(t *testing.T) {
	t.Parallel()
	// Burst 3; Ping costs 2, so the second Ping is rejected.
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(ratelimit.Policy{Limit: 1e-6, Burst: 3}),
		ratelimit.WithCost(func(call *ratelimit.Call) int {
			if call.Procedure == "/connectware.test.v1.TestService/Ping" {
				return 2
			}
			return 1
		}))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, nil)
	assert.Code(t, err, connect.CodeResourceExhausted)
	_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeServer, nil)
	assert.NoError(t, err, "one token left for a cheap call")
}

func TestInterceptorDryRun(t *testing.T) {
	t.Parallel()
	var rejected atomic.Int64
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithDryRun(), ratelimit.WithKey(caseKey()),
		ratelimit.WithOnReject(func(context.Context, *ratelimit.Call, ratelimit.Decision) { rejected.Add(1) }))
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)), func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				before := rejected.Load()
				for range 2 {
					_, _, err := testkit.Call(callTimeout(t), c.Client(), st, http.Header{caseHeader: {t.Name()}})
					assert.NoError(t, err)
				}
				assert.Equal(t, rejected.Load()-before, int64(1))
			})
		}
	})
}

// TestInterceptorIdentityKey: the interceptor sees the identity authn's
// middleware stored, on every RPC kind.
func TestInterceptorIdentityKey(t *testing.T) {
	t.Parallel()
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow),
		ratelimit.WithKey(ratelimit.KeyJoin(ratelimit.KeyIdentity(), ratelimit.KeyProcedure())))
	srv := testkit.NewServer(t, fakeAuth(testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic))), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
			alice := http.Header{"X-User": {"alice"}}
			_, _, err := testkit.Call(callTimeout(t), client, st, alice)
			assert.NoError(t, err)
			_, _, err = testkit.Call(callTimeout(t), client, st, alice)
			assert.Code(t, err, connect.CodeResourceExhausted)
			_, _, err = testkit.Call(callTimeout(t), client, st, http.Header{"X-User": {"bob"}})
			assert.NoError(t, err)
		})
	}
}

func TestMiddlewareGRPCGo(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyProcedure()))
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), n)
		conn := testkit.GRPCConn(t, srv)
		for _, st := range testkit.StreamTypes() {
			t.Run(n.String()+"/grpc-go/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				// One bucket per procedure, shared by both networks.
				err := testkit.GRPCCall(callTimeout(t), conn, st)
				if n == testkit.H2C {
					assert.NoError(t, err)
					err = testkit.GRPCCall(callTimeout(t), conn, st)
				}
				assert.Error(t, err)
				assert.Contains(t, err.Error(), "ResourceExhausted")
			})
		}
	}
}

// TestWithClock: decisions read the injected clock, on the quick path (a
// header key) and the full one (the peer's address), in both placements:
// an hour on the fake clock refills a bucket that real time would not.
func TestWithClock(t *testing.T) {
	t.Parallel()
	for _, key := range []struct {
		name string
		key  ratelimit.Key
	}{
		{"header", ratelimit.KeyHeader(caseHeader)},
		{"ip", ratelimit.KeyJoin(ratelimit.KeyIP(), ratelimit.KeyHeader(caseHeader))},
	} {
		var now atomic.Int64
		now.Store(t0.UnixNano())
		clock := ratelimit.WithClock(func() time.Time { return time.Unix(0, now.Load()) })
		mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(key.key), clock)
		ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(key.key), clock)
		for name, h := range map[string]http.Handler{
			"middleware":  mw.Wrap(testkit.NewMux(&testkit.PingServer{})),
			"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)),
		} {
			t.Run(name+"/"+key.name, func(t *testing.T) {
				srv := testkit.NewServer(t, h, testkit.H2C)
				client := testkit.NewClient(srv, testkit.ConnectProto)
				header := http.Header{caseHeader: {"clock"}}
				_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, header)
				assert.NoError(t, err)
				_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, header)
				checkRejection(t, err)
				now.Add(int64(time.Hour))
				_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, header)
				assert.NoError(t, err, "an hour later on the injected clock")
			})
		}
	}
}

// TestWithClockNotReadWithoutKey: a call without a key is not limited and
// does not read the injected clock (a test clock that moves on each reading
// moves only for the calls the limiter decides), on the quick path of the
// middleware and the interceptor.
func TestWithClockNotReadWithoutKey(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	clock := ratelimit.WithClock(func() time.Time { return t0.Add(time.Duration(reads.Add(1)) * time.Millisecond) })
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyHeader(caseHeader)), clock)
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyHeader(caseHeader)), clock)
	for name, h := range map[string]http.Handler{
		"middleware":  mw.Wrap(testkit.NewMux(&testkit.PingServer{})),
		"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)),
	} {
		srv := testkit.NewServer(t, h, testkit.H2C)
		client := testkit.NewClient(srv, testkit.ConnectProto)
		for _, st := range testkit.StreamTypes() {
			_, _, err := testkit.Call(callTimeout(t), client, st, nil)
			assert.NoError(t, err, name)
		}
	}
	assert.Equal(t, reads.Load(), int64(0), "clock reads")
}

// TestRetryInfoForVeryLongWait: a wait longer than a Duration holds (a
// cost above the burst of a policy whose window is centuries long) gives a
// RetryInfo delay as long as Retry-After, not one that overflowed into the
// past and tells clients to retry at once.
func TestRetryInfoForVeryLongWait(t *testing.T) {
	t.Parallel()
	policy := ratelimit.Policy{Limit: rate.Every(30 * 24 * time.Hour), Burst: 10_000}
	huge := ratelimit.WithCost(func(*ratelimit.Call) int { return 1 << 40 })
	for name, h := range map[string]http.Handler{
		"middleware":  ratelimit.NewMiddleware(ratelimit.NewLocal(policy), huge).Wrap(testkit.NewMux(&testkit.PingServer{})),
		"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ratelimit.NewInterceptor(ratelimit.NewLocal(policy), huge))),
	} {
		srv := testkit.NewServer(t, h, testkit.H2C)
		for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
			_, _, err := testkit.Call(callTimeout(t), testkit.NewClient(srv, p), connect.StreamTypeUnary, nil)
			assert.Code(t, err, connect.CodeResourceExhausted, name, p.String())
			var cerr *connect.Error
			assert.True(t, errors.As(err, &cerr))
			assert.Equal(t, cerr.Meta().Get("Retry-After"), "9223372037", name, p.String())
			delay, ok := ratelimit.RetryDelay(err)
			assert.True(t, ok, "RetryInfo detail", name, p.String())
			assert.Equal(t, delay, time.Duration(math.MaxInt64), name, p.String())
		}
	}
}

// TestProcedureLimiterWithoutLeadingSlash: a procedure given without its
// leading slash ("pkg.Service/Method", as the rest of the module accepts)
// still gets its limiter, or its exemption, in both placements.
func TestProcedureLimiterWithoutLeadingSlash(t *testing.T) {
	t.Parallel()
	ping := strings.TrimPrefix(testkit.Procedure(connect.StreamTypeUnary), "/")
	sum := strings.TrimPrefix(testkit.Procedure(connect.StreamTypeClient), "/")
	opts := func() []ratelimit.Option {
		return []ratelimit.Option{
			ratelimit.WithProcedureLimiter(ping, ratelimit.NewLocal(slow)),
			ratelimit.WithProcedureLimiter(sum, nil),
		}
	}
	def := ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1}
	for name, h := range map[string]http.Handler{
		"middleware":  ratelimit.NewMiddleware(ratelimit.NewLocal(def), opts()...).Wrap(testkit.NewMux(&testkit.PingServer{})),
		"interceptor": testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ratelimit.NewInterceptor(ratelimit.NewLocal(def), opts()...))),
	} {
		srv := testkit.NewServer(t, h, testkit.H2C)
		client := testkit.NewClient(srv, testkit.ConnectProto)
		_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, nil)
		assert.NoError(t, err, name)
		_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, nil)
		checkRejection(t, err) // Ping's own policy, named per-client
		for range 3 {
			_, _, err = testkit.Call(callTimeout(t), client, connect.StreamTypeClient, nil)
			assert.NoError(t, err, name, "Sum is exempt")
		}
	}
}
