package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/connectware/connectware/ratelimit"
)

// Limit each API key to one call an hour, rejecting before the request
// body is read. In production, key by [ratelimit.KeyIdentity] and place the
// limiter after authn's middleware, so unauthenticated requests never spend
// a client's tokens: authMiddleware.Wrap(limit.Wrap(mux)).
func ExampleNewMiddleware() {
	limiter := ratelimit.NewLocal(ratelimit.Policy{Name: "per-client", Limit: rate.Every(time.Hour), Burst: 1})
	limit := ratelimit.NewMiddleware(limiter, ratelimit.WithKey(ratelimit.KeyHeader("X-Api-Key")))
	mux := http.NewServeMux() // your Connect handlers
	mux.HandleFunc("/acme.orders.v1.OrderService/Place", func(w http.ResponseWriter, _ *http.Request) {})
	handler := limit.Wrap(mux)
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/acme.orders.v1.OrderService/Place", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", "client-1")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code)
			continue
		}
		fmt.Println(rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("RateLimit-Policy"), rec.Header().Get("RateLimit"))
	}
	// Output:
	// 200
	// 429 3600 "per-client";q=1;w=3600 "per-client";r=0;t=3600
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
// until a call is allowed. Pass it to handlers and clients with
// connect.WithInterceptors; here it wraps a unary handler function directly.
func ExampleNewInterceptor() {
	limiter := ratelimit.NewLocal(ratelimit.Policy{Name: "per-tenant", Limit: rate.Every(time.Hour), Burst: 1})
	interceptor := ratelimit.NewInterceptor(limiter, ratelimit.WithKey(ratelimit.KeyHeader("X-Tenant")))
	handle := interceptor.WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return connect.NewResponse(&emptypb.Empty{}), nil
	})
	for range 2 {
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("X-Tenant", "acme")
		if _, err := handle(context.Background(), req); err != nil {
			delay, _ := ratelimit.RetryDelay(err)
			fmt.Println(connect.CodeOf(err), delay)
			continue
		}
		fmt.Println("ok")
	}
	fmt.Printf("%+v\n", interceptor.Stats())
	// Output:
	// ok
	// resource_exhausted 1h0m0s
	// {Allowed:1 Rejected:1 Errors:0}
}

// Behind proxies, the client's address comes from the header they set, read
// right to left and only when the connection comes from a trusted proxy.
func ExampleClientIP() {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7, 10.0.0.2"}}
	fromProxy, _ := ratelimit.ClientIP("10.0.0.1:5000", h, ratelimit.HeaderXForwardedFor, proxies)
	direct, _ := ratelimit.ClientIP("203.0.113.9:5000", h, ratelimit.HeaderXForwardedFor, proxies)
	fmt.Println(fromProxy, direct)
	// Output: 198.51.100.7 203.0.113.9
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
