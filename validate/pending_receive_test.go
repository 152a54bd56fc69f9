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
			select {
			case err := <-received:
				v2Code(t, err, connectv2.CodeInvalidArgument, "Receive returns the call's failure")
			case <-time.After(10 * time.Second):
				t.Fatal("the pending Receive still blocks 10 s after the failed Send")
			}
			select {
			case <-ends.ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler still runs")
			}
			assert.NoError(t, stream.Close())
		})
	}
}
