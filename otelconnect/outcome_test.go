package otelconnect_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
)

// uncodedErrors are errors that are no connect-go *Error, as a handler or
// an interceptor returns them, with the codes connect-go gives them:
// coded on connect-go v1 handlers and clients and v2 clients, and
// v2Handler on connect-go v2 handlers, which do not code a client's
// disconnection (connect-go's wrapIfContextError, wrapIfUncoded and
// scrubHandlerError).
var uncodedErrors = []struct {
	name      string
	err       error
	coded     connect.Code
	v2Handler connect.Code
}{
	{"canceled", context.Canceled, connect.CodeCanceled, connect.CodeCanceled},
	{"wrapped_deadline", fmt.Errorf("query users: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded, connect.CodeDeadlineExceeded},
	{"dial_deadline", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, connect.CodeDeadlineExceeded, connect.CodeDeadlineExceeded},
	{"broken_pipe", fmt.Errorf("write response: %w", syscall.EPIPE), connect.CodeCanceled, connect.CodeUnknown},
	{"stream_closed", errors.New("http2: stream closed"), connect.CodeCanceled, connect.CodeUnknown},
	{"other", errors.New("boom"), connect.CodeUnknown, connect.CodeUnknown},
}

// TestHandlerUncodedErrors checks that a handler returning an error that is
// no *connect.Error (a bare or wrapped context error, a write to a client
// that went away, anything else) is recorded with the code connect-go v1
// sends for it, for every network, protocol and RPC kind.
func TestHandlerUncodedErrors(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	var current atomic.Int32 // the uncodedErrors index handlers return
	svc := &testkit.PingServer{OnCall: func(context.Context, string) error {
		return uncodedErrors[current.Load()].err
	}}
	mux := testkit.NewMux(svc, connect.WithInterceptors(tel.interceptor(t)))
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		client := c.Client()
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			for i, tc := range uncodedErrors {
				t.Run(testkit.StreamTypeName(st)+"/"+tc.name, func(t *testing.T) {
					tel.ended()
					tel.collect(t)
					current.Store(int32(i))
					_, _, err := testkit.Call(callCtx(t), client, st, nil)
					assert.Code(t, err, tc.coded, "on the wire")
					checkServerRecorded(t, tel, tc.coded)
				})
			}
		}
	})
}

// TestV2HandlerUncodedErrors checks the same for connect-go v2 handlers,
// which code context errors as v1 does but not a client's disconnection.
func TestV2HandlerUncodedErrors(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, _ := tel.v2Interceptors(t)
	var current atomic.Int32
	svc := &v2PingServer{onCall: func(context.Context, string) error {
		return uncodedErrors[current.Load()].err
	}}
	v2Cases(t, svc.handler(server), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		client := testkitv2.NewClient(srv, p, nil)
		for i, tc := range uncodedErrors {
			t.Run(tc.name, func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				current.Store(int32(i))
				_, err := v2Call(callCtx(t), client, st, nil)
				assert.Equal(t, codeOf(err), tc.v2Handler, "on the wire", err)
				checkServerRecorded(t, tel, tc.v2Handler)
			})
		}
	})
}

// TestV2HandlerRemoteError checks that a connect-go v2 handler returning
// the error of a call it made (a peer's verdict) is recorded as INTERNAL,
// the code connect-go v2 sends for it, not the peer's code.
func TestV2HandlerRemoteError(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	server, _ := tel.v2Interceptors(t)
	upstream := testkit.NewServer(t, (&v2PingServer{}).handler(), testkit.H2C)
	upstreamClient := testkitv2.NewClient(upstream, testkit.GRPC, nil)
	svc := &v2PingServer{onCall: func(ctx context.Context, _ string) error {
		return upstreamClient.CallUnary(ctx, testkitv2.Spec(testv1connect.TestServiceFailProcedure),
			&testv1.FailRequest{Code: int32(connect.CodeNotFound)}, &testv1.FailResponse{})
	}}
	v2Cases(t, svc.handler(server), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		tel.ended()
		tel.collect(t)
		_, err := v2Call(callCtx(t), testkitv2.NewClient(srv, p, nil), st, nil)
		assert.Equal(t, codeOf(err), connect.CodeInternal, "on the wire", err)
		checkServerRecorded(t, tel, connect.CodeInternal)
	})
}

// failingInterceptor sits inside the interceptor under test on a client and
// fails its calls with err, which connect-go has not coded, as a
// client-side limiter returning ctx.Err() would: unary calls before they
// are sent, streams at their first Receive.
type failingInterceptor struct{ err error }

func (f failingInterceptor) WrapUnary(connect.UnaryFunc) connect.UnaryFunc {
	return func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return nil, f.err }
}

func (f failingInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return &failingReceive{StreamingClientConn: next(ctx, spec), err: f.err}
	}
}

func (failingInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// failingReceive is a client stream whose Receive fails with err.
type failingReceive struct {
	connect.StreamingClientConn
	err error
}

func (f *failingReceive) Receive(any) error { return f.err }

// TestClientUncodedErrors checks that a client call failing with an error
// that is no *connect.Error (from an interceptor inside) is recorded with
// the code connect-go v1 gives such errors, for every network, protocol
// and RPC kind.
func TestClientUncodedErrors(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	interceptor := tel.interceptor(t)
	testkit.Matrix(t, testkit.NewMux(&testkit.PingServer{}), func(t *testing.T, c testkit.Case) {
		for _, tc := range uncodedErrors {
			client := c.Client(connect.WithInterceptors(interceptor, failingInterceptor{tc.err}))
			for _, st := range testkit.StreamTypes() {
				if !testkit.SupportsStream(c.Network, st) {
					continue
				}
				t.Run(testkit.StreamTypeName(st)+"/"+tc.name, func(t *testing.T) {
					tel.ended()
					tel.collect(t)
					_, _, err := testkit.Call(callCtx(t), client, st, nil)
					assert.True(t, errors.Is(err, tc.err), "the caller gets the error", err)
					checkClientRecorded(t, tel, tc.coded)
				})
			}
		}
	})
}

// failingReceiveV2 is a connect-go v2 client interceptor that fails its
// streams' Receive with err, which connect-go has not coded.
func failingReceiveV2(err error) connectv2.ClientInterceptor {
	return func(next connectv2.ClientFunc) connectv2.ClientFunc {
		return func(ctx context.Context, spec connectv2.Spec) (connectv2.ClientStream, error) {
			stream, openErr := next(ctx, spec)
			if openErr != nil {
				return nil, openErr
			}
			return &failingReceiveStream{ClientStream: stream, err: err}, nil
		}
	}
}

type failingReceiveStream struct {
	connectv2.ClientStream
	err error
}

func (f *failingReceiveStream) Receive(any) error { return f.err }

// TestV2ClientUncodedErrors checks the same for connect-go v2 clients.
func TestV2ClientUncodedErrors(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	_, interceptor := tel.v2Interceptors(t)
	v2Cases(t, (&v2PingServer{}).handler(), func(t *testing.T, srv *testkit.Server, p testkit.Protocol, st connect.StreamType) {
		for _, tc := range uncodedErrors {
			t.Run(tc.name, func(t *testing.T) {
				tel.ended()
				tel.collect(t)
				client := testkitv2.NewClient(srv, p, nil, interceptor, failingReceiveV2(tc.err))
				_, err := v2Call(callCtx(t), client, st, nil)
				assert.True(t, errors.Is(err, tc.err), "the caller gets the error", err)
				checkClientRecorded(t, tel, tc.coded)
			})
		}
	})
}
