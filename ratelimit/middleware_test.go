package ratelimit_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// caseHeader gives every subtest its own bucket on a shared server.
const caseHeader = "X-Test-Case"

// slow allows one call per hour per key: the second call in a test is
// always rejected, whatever the machine's speed.
var slow = ratelimit.Policy{Name: "per-client", Limit: rate.Every(time.Hour), Burst: 1}

func caseKey() ratelimit.Key {
	return ratelimit.KeyJoin(ratelimit.KeyIP(), ratelimit.KeyHeader(caseHeader))
}

func callTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkRejection asserts everything a rejected call must carry.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	assert.Code(t, err, connect.CodeResourceExhausted)
	var cerr *connect.Error
	assert.True(t, errors.As(err, &cerr))
	meta := cerr.Meta()
	assert.Equal(t, meta.Get("Retry-After"), "3600")
	assert.Equal(t, meta.Get("RateLimit-Policy"), `"per-client";q=1;w=3600`)
	assert.Equal(t, meta.Get("RateLimit"), `"per-client";r=0;t=3600`)
	delay, ok := ratelimit.RetryDelay(err)
	assert.True(t, ok, "RetryInfo detail")
	assert.Equal(t, delay, time.Hour)
}

func TestMiddlewareMatrix(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(caseKey()))
	testkit.Matrix(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				header := http.Header{caseHeader: {t.Name()}}
				_, _, err := testkit.Call(callTimeout(t), c.Client(), st, header)
				assert.NoError(t, err, "first call is within the burst")
				_, _, err = testkit.Call(callTimeout(t), c.Client(), st, header)
				checkRejection(t, err)
			})
		}
	})
}

// TestMiddlewareConnectStatus429 checks the HTTP status a Connect unary
// rejection has, and that the handler never read the body.
func TestMiddlewareConnectStatus429(t *testing.T) {
	t.Parallel()
	var bodyReads atomic.Int64
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow))
	inner := mw.Wrap(testkit.NewMux(&testkit.PingServer{}))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &bodyReads}
		inner.ServeHTTP(w, r)
	})
	srv := testkit.NewServer(t, h, testkit.HTTP1)
	post := func() *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+testv1connect.TestServicePingProcedure, strings.NewReader(`{"number":1}`))
		assert.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client.Do(req)
		assert.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res
	}
	assert.Equal(t, post().StatusCode, http.StatusOK)
	readsBefore := bodyReads.Load()
	assert.True(t, readsBefore > 0, "the allowed call was read")
	res := post()
	assert.Equal(t, res.StatusCode, http.StatusTooManyRequests)
	assert.Equal(t, res.Header.Get("Retry-After"), "3600")
	assert.Equal(t, bodyReads.Load(), readsBefore, "the rejected body was never read")
	// A plain HTTP request (not an RPC) gets a plain 429.
	plain, err := srv.Client.Get(srv.URL + "/healthz")
	assert.NoError(t, err)
	_ = plain.Body.Close()
	assert.Equal(t, plain.StatusCode, http.StatusTooManyRequests)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	b.n.Add(1)
	return b.ReadCloser.Read(p)
}

// TestMiddlewareSpoofedXFFFromUntrustedPeer: the test client on 127.0.0.1
// is not a trusted proxy, so X-Forwarded-For cannot give it a new bucket;
// once 127.0.0.0/8 is trusted, it can.
func TestMiddlewareSpoofedXFFFromUntrustedPeer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		wantErr []bool
	}{
		{"untrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []bool{false, true, true, true}},
		// Trusted: each address its own bucket; the garbage header falls
		// back to the proxy's own address, once.
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, []bool{false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyIP(tc.trusted...)))
			srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
			client := testkit.NewClient(srv, testkit.ConnectProto)
			huge := strings.Repeat("x", 100_000)
			for i, xff := range []string{"198.51.100.1", "198.51.100.2", huge, "1.2.3.4, " + huge} {
				_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, http.Header{"X-Forwarded-For": {xff}})
				if !tc.wantErr[i] {
					assert.NoError(t, err, "call", i)
				} else {
					assert.Code(t, err, connect.CodeResourceExhausted, "call", i)
				}
			}
		})
	}
}

func TestMiddlewareProcedureLimiterAndExemption(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 3}),
		ratelimit.WithProcedureLimiter(testv1connect.TestServicePingProcedure, ratelimit.NewLocal(slow)),
		ratelimit.WithProcedureLimiter(testv1connect.TestServiceSumProcedure, nil))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	ctx := callTimeout(t)
	_, _, err := testkit.Call(ctx, client, connect.StreamTypeUnary, nil)
	assert.NoError(t, err)
	_, _, err = testkit.Call(ctx, client, connect.StreamTypeUnary, nil)
	checkRejection(t, err) // Ping's own, stricter policy
	for range 5 {
		_, _, err = testkit.Call(ctx, client, connect.StreamTypeClient, nil)
		assert.NoError(t, err, "Sum is exempt")
	}
	for range 3 {
		_, _, err = testkit.Call(ctx, client, connect.StreamTypeServer, nil)
		assert.NoError(t, err, "default policy: burst 3")
	}
	_, _, err = testkit.Call(ctx, client, connect.StreamTypeServer, nil)
	assert.Code(t, err, connect.CodeResourceExhausted)
	assert.Equal(t, mw.Stats(), ratelimit.Stats{Allowed: 4, Rejected: 2})
}

func TestMiddlewareDryRunAndHook(t *testing.T) {
	t.Parallel()
	var hooked atomic.Int64
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithDryRun(),
		ratelimit.WithOnReject(func(_ context.Context, call *ratelimit.Call, d ratelimit.Decision) {
			assert.Equal(t, call.Procedure, testv1connect.TestServicePingProcedure)
			assert.True(t, !d.Allowed)
			hooked.Add(1)
		}))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC)
	for range 3 {
		_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, nil)
		assert.NoError(t, err, "dry run rejects nothing")
	}
	assert.Equal(t, hooked.Load(), int64(2))
	assert.Equal(t, mw.Stats(), ratelimit.Stats{Allowed: 1, Rejected: 2})
}

func TestMiddlewareAllowedHeaders(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(ratelimit.Policy{Limit: 1, Burst: 60}), ratelimit.WithAllowedHeaders())
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectJSON)
	res, err := client.Ping(callTimeout(t), connect.NewRequest(&testv1.PingRequest{Number: 1}))
	assert.NoError(t, err)
	assert.Equal(t, res.Header().Get("RateLimit-Policy"), `"default";q=60;w=60`)
	assert.Equal(t, res.Header().Get("RateLimit"), `"default";r=59;t=1`)
	assert.Equal(t, res.Header().Get("Retry-After"), "")
}

// TestMiddlewareIdentityKey: authn's identity keys the bucket, so one
// client's flood does not touch another's, and calls without an identity
// are not limited by this rule.
func TestMiddlewareIdentityKey(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyIdentity()))
	srv := testkit.NewServer(t, fakeAuth(mw.Wrap(testkit.NewMux(&testkit.PingServer{}))), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	ctx := callTimeout(t)
	call := func(user string) error {
		h := http.Header{}
		if user != "" {
			h.Set("X-User", user)
		}
		_, _, err := testkit.Call(ctx, client, connect.StreamTypeUnary, h)
		return err
	}
	assert.NoError(t, call("alice"))
	assert.Code(t, call("alice"), connect.CodeResourceExhausted)
	assert.NoError(t, call("bob"), "bob has his own bucket")
	assert.NoError(t, call(""))
	assert.NoError(t, call(""), "no identity: not limited by the identity key")
}

// TestMiddlewareLongKeysDigested: keys over 128 bytes are replaced by a
// digest of the whole key, so long keys that differ only at the end still
// get their own buckets.
func TestMiddlewareLongKeysDigested(t *testing.T) {
	t.Parallel()
	mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyHeader("X-Api-Key")))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	long := strings.Repeat("k", 4096)
	call := func(key string) error {
		_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, http.Header{"X-Api-Key": {key}})
		return err
	}
	assert.NoError(t, call(long+"1"))
	assert.Code(t, call(long+"1"), connect.CodeResourceExhausted)
	assert.NoError(t, call(long+"2"))
}

// TestMiddlewareRejectsWithoutReadingBody sends rejected calls whose body
// never arrives: the client sends the headers and nothing else. The
// middleware must answer from the headers alone, in each protocol, instead
// of waiting for a body it does not need.
func TestMiddlewareRejectsWithoutReadingBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		network     testkit.Network
		contentType string
		procedure   string
		wantStatus  int
		wantGRPC    string // grpc-status, for gRPC and gRPC-Web
	}{
		{testkit.HTTP1, "application/proto", testv1connect.TestServicePingProcedure, http.StatusTooManyRequests, ""},
		{testkit.HTTP1, "application/connect+proto", testv1connect.TestServiceSumProcedure, http.StatusOK, ""},
		{testkit.H2C, "application/proto", testv1connect.TestServicePingProcedure, http.StatusTooManyRequests, ""},
		{testkit.H2C, "application/connect+proto", testv1connect.TestServiceCumSumProcedure, http.StatusOK, ""},
		{testkit.H2C, "application/grpc", testv1connect.TestServiceSumProcedure, http.StatusOK, "8"},
		{testkit.H2C, "application/grpc-web+proto", testv1connect.TestServiceCumSumProcedure, http.StatusOK, "8"},
	} {
		t.Run(tc.network.String()+"/"+tc.contentType, func(t *testing.T) {
			t.Parallel()
			mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow))
			srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), tc.network)
			// Spend the peer's only token.
			_, _, err := testkit.Call(callTimeout(t), testkit.NewClient(srv, testkit.ConnectProto), connect.StreamTypeUnary, nil)
			assert.NoError(t, err)

			var res *http.Response
			if tc.network == testkit.HTTP1 {
				// Go's HTTP/1.1 client waits for its body writer before it
				// reports a response, so write the request by hand: headers
				// that promise a body, then nothing.
				conn, err := net.Dial("tcp", srv.Addr.String())
				assert.NoError(t, err)
				defer conn.Close()
				assert.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
				_, err = io.WriteString(conn, "POST "+tc.procedure+" HTTP/1.1\r\nHost: test\r\n"+
					"Content-Type: "+tc.contentType+"\r\nConnect-Protocol-Version: 1\r\nContent-Length: 100000\r\n\r\n")
				assert.NoError(t, err)
				res, err = http.ReadResponse(bufio.NewReader(conn), nil)
				assert.NoError(t, err, "the rejection came without the body")
			} else {
				body, never := io.Pipe()
				defer never.Close()
				req, err := http.NewRequestWithContext(callTimeout(t), http.MethodPost, srv.URL+tc.procedure, body)
				assert.NoError(t, err)
				req.Header.Set("Content-Type", tc.contentType)
				req.Header.Set("Connect-Protocol-Version", "1")
				req.Header.Set("Te", "trailers")
				res, err = srv.Client.Do(req)
				assert.NoError(t, err, "the rejection came without the body")
			}
			assert.Equal(t, res.StatusCode, tc.wantStatus)
			assert.Equal(t, res.Header.Get("Retry-After"), "3600")
			assert.Equal(t, res.Header.Get("RateLimit"), `"per-client";r=0;t=3600`)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if tc.wantGRPC != "" {
				status := res.Header.Get("Grpc-Status")
				if status == "" {
					status = res.Trailer.Get("Grpc-Status")
				}
				assert.Equal(t, status, tc.wantGRPC)
			}
		})
	}
}

// TestMiddlewareRotatingKeysStayBounded: a client behind a trusted proxy
// that names a new address on every call cannot grow the limiter past its
// bound, and a steady client's spent bucket is not forgotten meanwhile
// (the least recently used keys go first).
func TestMiddlewareRotatingKeysStayBounded(t *testing.T) {
	t.Parallel()
	const bound = 16
	local := ratelimit.NewLocal(slow, ratelimit.WithMaxKeys(bound))
	mw := ratelimit.NewMiddleware(local, ratelimit.WithKey(ratelimit.KeyIP(netip.MustParsePrefix("127.0.0.0/8"))))
	srv := testkit.NewServer(t, mw.Wrap(testkit.NewMux(&testkit.PingServer{})), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	call := func(xff string) error {
		_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeUnary, http.Header{"X-Forwarded-For": {xff}})
		return err
	}
	assert.NoError(t, call("198.51.100.1"))
	for i := range 300 {
		assert.NoError(t, call(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}).String()), "a new address has a full bucket")
		assert.True(t, local.Len() <= bound, "bound")
		if i%(bound/2) == 0 {
			assert.Code(t, call("198.51.100.1"), connect.CodeResourceExhausted, "the steady client is remembered")
		}
	}
	assert.Equal(t, local.Len(), bound)
}
