package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

func TestInterceptorHandlerMatrix(t *testing.T) {
	t.Parallel()
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(caseKey()))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
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

func TestInterceptorHandlerGRPCGo(t *testing.T) {
	t.Parallel()
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyProcedure()))
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)), testkit.H2C)
	conn := testkit.GRPCConn(t, srv)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/grpc-go/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
			assert.NoError(t, testkit.GRPCCall(callTimeout(t), conn, st))
			err := testkit.GRPCCall(callTimeout(t), conn, st)
			assert.Error(t, err)
			assert.Contains(t, err.Error(), "ResourceExhausted")
		})
	}
}

// TestInterceptorMessageLimiter: with WithMessageLimiter each message a
// handler receives spends a token, and the end of the stream spends none:
// a bucket of 3 lets through three server streams of one request message
// each, or one client or bidi stream of three messages, and rejects the
// next message with ResourceExhausted and a RetryInfo detail.
func TestInterceptorMessageLimiter(t *testing.T) {
	t.Parallel()
	// No limit on opening streams: only messages are limited.
	msgs := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 3})
	ic := ratelimit.NewInterceptor(nil, ratelimit.WithKey(caseKey()), ratelimit.WithMessageLimiter(msgs))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		for _, st := range []connect.StreamType{connect.StreamTypeServer, connect.StreamTypeClient, connect.StreamTypeBidi} {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				header := http.Header{caseHeader: {t.Name()}}
				calls := 1 // the test calls of client and bidi streams send 3 messages
				if st == connect.StreamTypeServer {
					calls = 3 // one request message each
				}
				for i := range calls {
					_, _, err := testkit.Call(callTimeout(t), c.Client(), st, header)
					assert.NoError(t, err, "call", i+1, "is within the bucket")
				}
				_, _, err := testkit.Call(callTimeout(t), c.Client(), st, header)
				assert.Code(t, err, connect.CodeResourceExhausted)
				_, ok := ratelimit.RetryDelay(err)
				assert.True(t, ok, "a RetryInfo detail")
			})
		}
	})
}

// concurrentCumSum is a bidi handler that sends from another goroutine
// while it receives, as connect-go allows.
type concurrentCumSum struct{ testkit.PingServer }

func (*concurrentCumSum) CumSum(_ context.Context, stream *connect.BidiStream[testv1.CumSumRequest, testv1.CumSumResponse]) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 3 {
			_ = stream.Send(&testv1.CumSumResponse{Sum: int64(i)})
		}
	})
	var err error
	for err == nil {
		_, err = stream.Receive()
	}
	wg.Wait()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// TestInterceptorMessageRejectionWhileSending: a message rejected while
// the handler sends from another goroutine touches no shared state (the
// race detector watches), and the client still gets ResourceExhausted.
func TestInterceptorMessageRejectionWhileSending(t *testing.T) {
	t.Parallel()
	msgs := ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 1})
	ic := ratelimit.NewInterceptor(nil, ratelimit.WithKey(caseKey()), ratelimit.WithMessageLimiter(msgs))
	srv := testkit.NewServer(t, testkit.NewMux(&concurrentCumSum{}, connect.WithInterceptors(ic)), testkit.H2C)
	client := testkit.NewClient(srv, testkit.ConnectProto)
	for i := range 20 {
		_, _, err := testkit.Call(callTimeout(t), client, connect.StreamTypeBidi, http.Header{caseHeader: {t.Name() + strconv.Itoa(i)}})
		assert.Code(t, err, connect.CodeResourceExhausted)
	}
}

func TestInterceptorAllowedHeaders(t *testing.T) {
	t.Parallel()
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(ratelimit.Policy{Limit: 1, Burst: 5}), ratelimit.WithAllowedHeaders(),
		ratelimit.WithKey(caseKey()))
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				h, _, err := testkit.Call(callTimeout(t), c.Client(), st, http.Header{caseHeader: {t.Name()}})
				assert.NoError(t, err)
				assert.Equal(t, h.Get("RateLimit-Policy"), `"default";q=5;w=5`)
				assert.Equal(t, h.Get("RateLimit"), `"default";r=4;t=1`)
			})
		}
	})
}

// TestInterceptorClientWaits: on clients the interceptor delays calls until
// the limiter allows them, rather than failing.
func TestInterceptorClientWaits(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			t.Run(testkit.StreamTypeName(st)+"/client", func(t *testing.T) {
				// A clock that moves 10ms per reading, and a token every
				// 15ms: decisions alternate allowed, denied (wait), allowed...
				var ticks atomic.Int64
				clock := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * 10 * time.Millisecond) }
				ic := ratelimit.NewInterceptor(ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(15 * time.Millisecond), Burst: 1}),
					ratelimit.WithKey(ratelimit.KeyGlobal()), ratelimit.WithClock(clock))
				client := c.Client(connect.WithInterceptors(ic))
				for range 3 {
					_, _, err := testkit.Call(callTimeout(t), client, st, nil)
					assert.NoError(t, err)
				}
				s := ic.Stats()
				assert.Equal(t, s.Allowed, uint64(3))
				assert.Equal(t, s.Rejected, uint64(2), "the second and third calls waited once each")
			})
		}
	})
}

func TestInterceptorClientNoWait(t *testing.T) {
	t.Parallel()
	var reached int
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{OnCall: func(context.Context, string) error {
		reached++
		return nil
	}}), testkit.H2C)
	for _, st := range testkit.StreamTypes() {
		t.Run("h2c/connect_proto/"+testkit.StreamTypeName(st)+"/client", func(t *testing.T) {
			ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithClientNoWait(), ratelimit.WithKey(ratelimit.KeyGlobal()))
			client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(ic))
			reached = 0
			_, _, err := testkit.Call(callTimeout(t), client, st, nil)
			assert.NoError(t, err)
			_, _, err = testkit.Call(callTimeout(t), client, st, nil)
			assert.Code(t, err, connect.CodeResourceExhausted)
			assert.Equal(t, reached, 1, "the rejected call never reached the server")
		})
	}
}

// TestInterceptorClientWaitEndsWithContext: a call that would wait an hour
// gives up when its context ends.
func TestInterceptorClientWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), ratelimit.WithKey(ratelimit.KeyGlobal()))
	client := testkit.NewClient(srv, testkit.ConnectProto, connect.WithInterceptors(ic))
	_, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{}))
	assert.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = client.Ping(ctx, connect.NewRequest(&testv1.PingRequest{}))
	assert.Code(t, err, connect.CodeDeadlineExceeded)
}

// TestInterceptorClientMessageLimiter: on clients, WithMessageLimiter
// limits each message sent (here failing at once, with WithClientNoWait).
func TestInterceptorClientMessageLimiter(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		t.Run("client_stream/client", func(t *testing.T) {
			ic := ratelimit.NewInterceptor(nil, ratelimit.WithKey(ratelimit.KeyGlobal()), ratelimit.WithClientNoWait(),
				ratelimit.WithMessageLimiter(ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 2})))
			stream := c.Client(connect.WithInterceptors(ic)).Sum(callTimeout(t))
			assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
			assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 2}))
			assert.Code(t, stream.Send(&testv1.SumRequest{Number: 3}), connect.CodeResourceExhausted)
			res, err := stream.CloseAndReceive()
			assert.NoError(t, err)
			assert.Equal(t, res.Msg.GetSum(), int64(3), "the third message was never sent")
		})
		if !testkit.SupportsStream(c.Network, connect.StreamTypeBidi) {
			return
		}
		t.Run("bidi_stream/client", func(t *testing.T) {
			ic := ratelimit.NewInterceptor(nil, ratelimit.WithKey(ratelimit.KeyGlobal()), ratelimit.WithClientNoWait(),
				ratelimit.WithMessageLimiter(ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 2})))
			stream := c.Client(connect.WithInterceptors(ic)).CumSum(callTimeout(t))
			for i, want := range []int64{1, 3} {
				assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: int64(i + 1)}))
				res, err := stream.Receive()
				assert.NoError(t, err)
				assert.Equal(t, res.GetSum(), want)
			}
			assert.Code(t, stream.Send(&testv1.CumSumRequest{Number: 3}), connect.CodeResourceExhausted)
			assert.NoError(t, stream.CloseRequest())
			_, err := stream.Receive()
			assert.True(t, errors.Is(err, io.EOF), "the stream ends normally: the third message was never sent")
			assert.NoError(t, stream.CloseResponse())
		})
	})
}

// TestInterceptorProcedureLimiter: a procedure with its own limiter gets its
// own rate, one with a nil limiter is not limited, and the rest share the
// default, on every RPC kind.
func TestInterceptorProcedureLimiter(t *testing.T) {
	t.Parallel()
	ic := ratelimit.NewInterceptor(ratelimit.NewLocal(ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 2}),
		ratelimit.WithKey(ratelimit.KeyGlobal()),
		ratelimit.WithProcedureLimiter(testkit.Procedure(connect.StreamTypeUnary), ratelimit.NewLocal(slow)),
		ratelimit.WithProcedureLimiter(testkit.Procedure(connect.StreamTypeClient), nil))
	srv := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)), testkit.H2C)
	client := testkit.NewClient(srv, testkit.GRPC)
	call := func(st connect.StreamType) error {
		_, _, err := testkit.Call(callTimeout(t), client, st, nil)
		return err
	}
	assert.NoError(t, call(connect.StreamTypeUnary))
	checkRejection(t, call(connect.StreamTypeUnary)) // Ping's own policy: burst 1
	for range 5 {
		assert.NoError(t, call(connect.StreamTypeClient), "Sum is exempt")
	}
	assert.NoError(t, call(connect.StreamTypeServer))
	assert.NoError(t, call(connect.StreamTypeBidi))
	assert.Code(t, call(connect.StreamTypeServer), connect.CodeResourceExhausted, "the default policy's burst of 2 is spent")
	assert.Equal(t, ic.Stats(), ratelimit.Stats{Allowed: 3, Rejected: 2})
}
