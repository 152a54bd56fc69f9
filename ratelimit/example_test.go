package ratelimit_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// Limit each authenticated client to 10 calls per second with bursts of 20,
// rejecting before the request body is read. Place the limiter after authn's
// middleware so unauthenticated requests never spend a client's tokens.
func ExampleNewMiddleware() {
	limiter := ratelimit.NewLocal(ratelimit.Policy{Name: "per-client", Limit: 10, Burst: 20})
	limit := ratelimit.NewMiddleware(limiter, ratelimit.WithKey(ratelimit.KeyIdentity()))
	mux := http.NewServeMux()
	var handler http.Handler = limit.Wrap(mux) // then: authMiddleware.Wrap(handler)
	_ = handler
	fmt.Println(limiter.Policy().Window())
	// Output: 2s
}

// Decisions take the time as an argument, so tests are deterministic.
func ExampleLocal_AllowN() {
	limiter := ratelimit.NewLocal(ratelimit.Policy{Limit: 1, Burst: 2})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		d := limiter.Allow(start, "203.0.113.9")
		fmt.Println(i, d.Allowed, d.Remaining, d.RetryAfter)
	}
	fmt.Println(limiter.Allow(start.Add(time.Second), "203.0.113.9").Allowed)
	// Output:
	// 0 true 1 0s
	// 1 true 0 0s
	// 2 false 0 1s
	// true
}

// The interceptor limits handlers' calls and streams; on clients it waits
// until a call is allowed.
func ExampleNewInterceptor() {
	limiter := ratelimit.NewLocal(ratelimit.Policy{Limit: 100, Burst: 100})
	interceptor := ratelimit.NewInterceptor(limiter,
		ratelimit.WithKey(ratelimit.KeyJoin(ratelimit.KeyIP(), ratelimit.KeyProcedure())),
		ratelimit.WithAllowedHeaders())
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	_ = mux
	fmt.Println(interceptor.Stats())
	// Output: {0 0 0}
}

// A custom key: one bucket per tenant, named in a header, for calls that
// are not health checks.
func ExampleKeyFunc() {
	tenant := ratelimit.KeyFunc(func(dst []byte, call *ratelimit.Call) ([]byte, bool) {
		if strings.HasPrefix(call.Procedure, "/grpc.health.v1.Health/") {
			return dst, false // no key: not limited
		}
		t := call.Header.Get("X-Tenant")
		return append(dst, t...), t != ""
	})
	call := &ratelimit.Call{Procedure: "/acme.v1.Orders/Place", Header: http.Header{"X-Tenant": {"acme"}}}
	key, ok := tenant.AppendKey(nil, call)
	fmt.Println(string(key), ok)
	// Output: acme true
}
