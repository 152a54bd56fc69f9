package validate_test

import (
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/validate"
)

// TestV2FailedSendUnblocksPendingReceive is the errgroup shape over h2c:
// one goroutine receives, another sends, and the caller waits for both
// before it calls Close. The receiving goroutine is blocked on a response
// that has started (the server answered with headers only) when the
// sender's message fails: net/http ignores the cancellation there, so the
// failure itself must unblock the Receive, or neither goroutine, nor the
// handler, would ever end.
func TestV2FailedSendUnblocksPendingReceive(t *testing.T) {
	t.Parallel()
	for _, p := range testkit.Protocols() {
		if !p.Supports(testkit.H2C) {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, ends.v2Handler(), testkit.H2C)
			client := testkitv2.NewClient(srv, p, nil, validate.NewClientInterceptor())
			started := make(chan struct{})
			var once sync.Once
			ctx := httptrace.WithClientTrace(testContext(t), &httptrace.ClientTrace{
				GotFirstResponseByte: func() { once.Do(func() { close(started) }) },
			})
			stream, err := client.CallClientStream(ctx, testkitv2.SpecOf(connect.StreamTypeBidi))
			assert.NoError(t, err)
			// 0 is valid, and the server answers it with headers only: the
			// response starts, with no message for the Receive to read.
			assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 0}))
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("no response")
			}
			received := make(chan error, 1)
			go func() {
				var res testv1.CumSumResponse
				for {
					if err := stream.Receive(&res); err != nil {
						received <- err
						return
					}
				}
			}()
			time.Sleep(50 * time.Millisecond) // most often, the Receive is pending by now
			v2Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connectv2.CodeInvalidArgument)
			v2Code(t, awaitPending(t, received), connectv2.CodeInvalidArgument, "Receive returns the call's failure")
			_ = ends.awaitEnd(ctx, t)
			assert.NoError(t, stream.Close())
		})
	}
}

// TestFailedSendUnblocksPendingReceive is TestV2FailedSendUnblocksPendingReceive
// for connect-go v1 clients: one goroutine receives, another sends, and the
// caller waits for the receiving goroutine before it calls CloseResponse
// (connect-go v1 lets only the receiving goroutine call it). The Receive is
// blocked on a started response over h2c when the sender's message fails:
// it must return, with the call's failure, not hang or report a
// cancellation, and the handler must end.
func TestFailedSendUnblocksPendingReceive(t *testing.T) {
	t.Parallel()
	for _, p := range testkit.Protocols() {
		if !p.Supports(testkit.H2C) {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, testkit.NewMux(ends), testkit.H2C)
			client := testkit.NewClient(srv, p, connect.WithInterceptors(validate.NewInterceptor()))
			ctx := testContext(t)
			stream := client.CumSum(ctx)
			assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
			res, err := stream.Receive() // the response has started
			assert.NoError(t, err)
			assert.Equal(t, res.GetSum(), int64(1))
			received := make(chan error, 1)
			go func() {
				for {
					if _, err := stream.Receive(); err != nil {
						received <- err
						return
					}
				}
			}()
			time.Sleep(50 * time.Millisecond) // most often, the Receive is pending by now
			assert.Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connect.CodeInvalidArgument)
			assert.NoError(t, stream.CloseRequest())
			assert.Code(t, awaitPending(t, received), connect.CodeInvalidArgument, "Receive returns the call's failure")
			_ = stream.CloseResponse()
			// The handler ends, most often in an error; not always: see the
			// package documentation.
			_ = ends.awaitEnd(ctx, t)
		})
	}
}

// TestFailedSendFailsPendingReceive checks that with a connect-go v1 client
// a Receive pending before any response, when a Send fails on another
// goroutine, returns the call's failure (InvalidArgument), not the
// Canceled error of the cancellation that ends the stream. The call is a
// bidi stream to Sum, whose handler answers only once the request stream
// is over.
func TestFailedSendFailsPendingReceive(t *testing.T) {
	t.Parallel()
	for _, p := range testkit.Protocols() {
		if !p.Supports(testkit.H2C) {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, testkit.NewMux(ends), testkit.H2C)
			opts := append(p.ClientOptions(), connect.WithInterceptors(validate.NewInterceptor()))
			client := connect.NewClient[testv1.SumRequest, testv1.SumResponse](srv.Client, srv.URL+testv1connect.TestServiceSumProcedure, opts...)
			ctx := testContext(t)
			stream := client.CallBidiStream(ctx)
			assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
			ends.awaitSaw(ctx, t, 1)
			received := make(chan error, 1)
			go func() {
				_, err := stream.Receive()
				received <- err
			}()
			time.Sleep(50 * time.Millisecond) // most often, the Receive is pending by now
			assert.Code(t, stream.Send(&testv1.SumRequest{Number: -1}), connect.CodeInvalidArgument)
			assert.NoError(t, stream.CloseRequest())
			assert.Code(t, awaitPending(t, received), connect.CodeInvalidArgument, "Receive returns the call's failure")
			_ = stream.CloseResponse()
			assert.Error(t, ends.awaitEnd(ctx, t), "the server took the truncated stream for a complete one")
		})
	}
}

// awaitPending returns what a pending Receive, reporting on received,
// returned, failing the test when it still blocks 10 s on.
func awaitPending(t *testing.T, received <-chan error) error {
	t.Helper()
	select {
	case err := <-received:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the pending Receive still blocks 10 s after the failed Send")
		return nil
	}
}
