package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// TestAuthentication: GreetService calls without the token, or with a
// wrong one, are Unauthenticated (401 with a challenge for Connect) in
// every protocol; the handler never runs.
func TestAuthentication(t *testing.T) {
	p := startProcess(t)
	forEachClient(t, func(t *testing.T, proto testkit.Protocol, h2c bool) {
		client := p.greetClient(t, proto, h2c, false)
		_, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
		assert.Code(t, err, connect.CodeUnauthenticated)
		req := connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"})
		req.Header().Set("Authorization", "Bearer wrong")
		stream, err := client.GreetStream(context.Background(), req)
		if err == nil {
			for stream.Receive() {
				t.Fatal("a rejected stream delivered a message")
			}
			err = stream.Err()
			_ = stream.Close()
		}
		assert.Code(t, err, connect.CodeUnauthenticated)
	})
	t.Run("grpc-go", func(t *testing.T) {
		conn := p.grpcConn(t)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer wrong")
		err := conn.Invoke(ctx, greetv1connect.GreetServiceGreetProcedure, &greetv1.GreetRequest{Name: "Ada"}, &greetv1.GreetResponse{})
		assert.Equal(t, status.Code(err), codes.Unauthenticated)
	})
	t.Run("connect_status_and_challenge", func(t *testing.T) {
		res, err := http.Post(p.URL+greetv1connect.GreetServiceGreetProcedure, "application/json", strings.NewReader(`{"name":"Ada"}`))
		assert.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, res.StatusCode, http.StatusUnauthorized)
		assert.Contains(t, res.Header.Get("Www-Authenticate"), "Bearer")
		assert.Contains(t, string(body), `"code":"unauthenticated"`)
	})
}

// TestRateLimit: beyond the burst, calls are resource_exhausted with
// Retry-After, and an unauthenticated flood does not use up the client's
// bucket.
func TestRateLimit(t *testing.T) {
	p := startProcess(t, "-rate", "0.5", "-burst", "5")
	anonymous := p.greetClient(t, testkit.ConnectProto, false, false)
	for range 50 {
		_, err := anonymous.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "x"}))
		assert.Code(t, err, connect.CodeUnauthenticated)
	}
	client := p.greetClient(t, testkit.ConnectProto, false, true)
	for i := range 5 {
		_, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
		assert.NoError(t, err, "call", i, "is within the burst")
	}
	_, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.Code(t, err, connect.CodeResourceExhausted)
	var cerr *connect.Error
	assert.True(t, errors.As(err, &cerr))
	assert.True(t, cerr.Meta().Get("Retry-After") != "", cerr.Meta())

	// Public services are not limited per client.
	res, err := http.Get(p.URL + "/readyz")
	assert.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, res.StatusCode, http.StatusOK)
}

// TestCORSPreflight: preflights for the allowed origin are granted
// (Authorization included) without credentials, in the Connect and
// gRPC-Web protocols; any other origin gets no grant. Calls from the
// allowed origin expose the gRPC-Web status and the rate-limit headers,
// which a page needs to read to slow down.
func TestCORSPreflight(t *testing.T) {
	const origin = "https://app.example.com"
	p := startProcess(t, "-cors-origin", origin, "-rate", "0.1", "-burst", "1")
	preflight := func(origin, headers string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, p.URL+greetv1connect.GreetServiceGreetProcedure, nil)
		assert.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		res, err := http.DefaultClient.Do(req)
		assert.NoError(t, err)
		res.Body.Close()
		return res
	}
	for name, headers := range map[string]string{
		"connect": "authorization,connect-protocol-version,content-type",
		"grpcweb": "authorization,content-type,x-grpc-web,x-user-agent",
	} {
		res := preflight(origin, headers)
		assert.Equal(t, res.StatusCode, http.StatusNoContent, name)
		assert.Equal(t, res.Header.Get("Access-Control-Allow-Origin"), origin, name)
		assert.Contains(t, strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization")
		res = preflight("https://evil.example.net", headers)
		assert.Equal(t, res.Header.Get("Access-Control-Allow-Origin"), "", name)
	}
	// A real call from the allowed origin gets the grant and the exposed
	// gRPC-Web status and rate-limit headers; the second call, beyond the
	// burst, Retry-After too.
	call := func() *http.Response {
		req, err := http.NewRequest(http.MethodPost, p.URL+greetv1connect.GreetServiceGreetProcedure, strings.NewReader(`{"name":"Ada"}`))
		assert.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p.Token)
		res, err := http.DefaultClient.Do(req)
		assert.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, res.Header.Get("Access-Control-Allow-Origin"), origin, string(body))
		return res
	}
	// exposes reports whether res lets scripts read the header name (header
	// names are case-insensitive).
	exposes := func(res *http.Response, name string) bool {
		return slices.ContainsFunc(strings.Split(res.Header.Get("Access-Control-Expose-Headers"), ","), func(n string) bool {
			return strings.EqualFold(strings.TrimSpace(n), name)
		})
	}
	res := call()
	assert.Equal(t, res.StatusCode, http.StatusOK)
	for _, name := range []string{"Grpc-Status", ratelimit.HeaderRateLimit, ratelimit.HeaderRateLimitPolicy, ratelimit.HeaderRetryAfter} {
		assert.True(t, exposes(res, name), name, "is not exposed:", res.Header.Get("Access-Control-Expose-Headers"))
	}
	assert.True(t, res.Header.Get(ratelimit.HeaderRateLimit) != "", res.Header)
	assert.True(t, res.Header.Get(ratelimit.HeaderRateLimitPolicy) != "", res.Header)
	res = call()
	assert.Equal(t, res.StatusCode, http.StatusTooManyRequests)
	assert.True(t, res.Header.Get(ratelimit.HeaderRetryAfter) != "", res.Header)
	assert.True(t, exposes(res, ratelimit.HeaderRetryAfter), res.Header.Get("Access-Control-Expose-Headers"))
}
