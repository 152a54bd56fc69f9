// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestHandler runs every protocol, network and RPC kind against a handler
// with the interceptor: valid calls pass, an invalid request (first or
// mid-stream) fails with InvalidArgument and a Violations detail, and the
// handler never sees the invalid message.
func TestHandler(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := rec.handler(connect.WithInterceptors(validate.NewInterceptor()))
	testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
		client := c.Client()
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue // bidi streaming needs HTTP/2: covered over h2c and tls
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				ctx := testContext(t)
				_, _, err := testkit.Call(ctx, client, st, nil)
				assert.NoError(t, err, "valid call")
				for _, late := range []bool{false, true} {
					if late && (st == connect.StreamTypeUnary || st == connect.StreamTypeServer) {
						continue // one request message only
					}
					err := callInvalid(ctx, client, st, late)
					assert.Code(t, err, connect.CodeInvalidArgument, "late:", late)
					if st == connect.StreamTypeUnary {
						assert.Equal(t, ruleIDs(t, err), pingRuleIDs)
					} else {
						assert.Equal(t, ruleIDs(t, err), []string{"int64.gte_lte"})
					}
				}
				assert.Equal(t, rec.negatives(), 0, "handler saw an invalid message")
			})
		}
	})
}

// TestClient runs every protocol, network and RPC kind with the interceptor
// on the client and none on the server: an invalid request fails locally
// with InvalidArgument and a Violations detail, and when it is the first
// message no HTTP request is made at all (not even a late one: the calls
// are marked, and the server watches for them after the last call).
func TestClient(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	// The invalid calls get a context that outlives their subtests, so that
	// a request wrongly started in the background is not canceled before
	// the server can see it.
	longCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testkit.Matrix(t, rec.handler(), func(t *testing.T, c testkit.Case) {
		client := c.Client(connect.WithInterceptors(validate.NewInterceptor()))
		marked := c.Client(connect.WithInterceptors(markInvalid{}, validate.NewInterceptor()))
		for _, st := range testkit.StreamTypes() {
			t.Run(testkit.StreamTypeName(st)+"/client", func(t *testing.T) {
				ctx := testContext(t)
				if testkit.SupportsStream(c.Network, st) {
					_, _, err := testkit.Call(ctx, client, st, nil)
					assert.NoError(t, err, "valid call")
				}
				err := callInvalid(longCtx, marked, st, false)
				assert.Code(t, err, connect.CodeInvalidArgument)
				if st == connect.StreamTypeUnary {
					assert.Equal(t, ruleIDs(t, err), pingRuleIDs)
				} else {
					assert.Equal(t, ruleIDs(t, err), []string{"int64.gte_lte"})
				}
				// Marked requests only: on a busy machine an earlier call's
				// request may reach the server late, and count in requests.
				assert.Equal(t, rec.strays.Load(), int64(0), "an invalid call reached the server")

				if st&connect.StreamTypeClient != 0 && testkit.SupportsStream(c.Network, st) {
					err := callInvalid(ctx, client, st, true)
					assert.Code(t, err, connect.CodeInvalidArgument, "mid-stream")
					assert.Equal(t, ruleIDs(t, err), []string{"int64.gte_lte"})
				}
				assert.Equal(t, rec.negatives(), 0, "an invalid message reached the server")
			})
		}
	})
	rec.noStrays(t)
}

// TestClientSendError checks that on a client the failing Send itself
// returns the validation error, that the stream stays failed afterwards,
// and that closing it sends nothing.
func TestClientSendError(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	longCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testkit.NewServer(t, rec.handler(), testkit.H2C)
	for _, p := range testkit.Protocols() {
		t.Run("h2c/"+p.String()+"/bidi_stream/client", func(t *testing.T) {
			client := testkit.NewClient(srv, p, connect.WithInterceptors(markInvalid{}, validate.NewInterceptor()))
			stream := client.CumSum(longCtx)
			assert.Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connect.CodeInvalidArgument)
			assert.Code(t, stream.Send(&testv1.CumSumRequest{Number: 1}), connect.CodeInvalidArgument, "a failed stream stays failed")
			_, err := stream.Receive()
			assert.Code(t, err, connect.CodeInvalidArgument)
			assert.NoError(t, stream.CloseRequest())
			assert.NoError(t, stream.CloseResponse())
			assert.Equal(t, rec.requests.Load(), int64(0))
		})
	}
	rec.noStrays(t)
}

// TestClientMidStream checks that when a client stream's second message
// is invalid, the call fails locally, the invalid message never reaches the
// server, and the server's handler, which got the first message, still
// ends (the canceled request leaves neither side waiting). Over HTTP/2 it
// ends in an error; over HTTP/1.1 that rests on timing (see the package
// documentation), so only the end is checked.
func TestClientMidStream(t *testing.T) {
	t.Parallel()
	rec := &recorder{sumEnded: make(chan error, 1), sumSaw: make(chan int64, 1)}
	testkit.Matrix(t, rec.handler(), func(t *testing.T, c testkit.Case) {
		t.Run("client_stream/client", func(t *testing.T) {
			ctx := testContext(t)
			stream := c.Client(connect.WithInterceptors(validate.NewInterceptor())).Sum(ctx)
			assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
			select {
			case n := <-rec.sumSaw:
				assert.Equal(t, n, int64(1))
			case <-ctx.Done():
				t.Fatal("the server never got the first message")
			}
			assert.Code(t, stream.Send(&testv1.SumRequest{Number: -1}), connect.CodeInvalidArgument)
			_, err := stream.CloseAndReceive()
			assert.Code(t, err, connect.CodeInvalidArgument)
			select {
			case err := <-rec.sumEnded:
				// The call was canceled: the server must not see a clean
				// end of the request stream and take the one message it
				// got for all of them.
				if c.Network.HTTP2() {
					assert.Error(t, err, "the server saw the truncated stream end cleanly")
				}
			case <-ctx.Done():
				t.Fatal("the server's handler never ended")
			}
			assert.Equal(t, rec.negatives(), 0)
		})
	})
}
