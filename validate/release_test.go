// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/validate"
)

// streamEnds is a TestService, for connect-go v1 servers (as a handler) and
// v2 servers (v2Handler), whose Sum and CumSum handlers report each number
// they receive on saw, and how their request stream ended on ended: nil
// for a clean end, else the receive error. CumSum answers every number, so
// that the client has a response before it fails; the v2 CumSum answers 0
// with the response headers alone.
type streamEnds struct {
	testkit.PingServer

	saw   chan int64
	ended chan error
}

func newStreamEnds() *streamEnds {
	return &streamEnds{saw: make(chan int64, 1), ended: make(chan error, 1)}
}

// report sends v on ch without ever blocking a handler, even when a test
// went wrong and nobody reads ch.
func report[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func (s *streamEnds) Sum(_ context.Context, stream *connect.ClientStream[testv1.SumRequest]) (*connect.Response[testv1.SumResponse], error) {
	var sum int64
	for stream.Receive() {
		report(s.saw, stream.Msg().GetNumber())
		sum += stream.Msg().GetNumber()
	}
	report(s.ended, stream.Err())
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&testv1.SumResponse{Sum: sum}), nil
}

func (s *streamEnds) CumSum(_ context.Context, stream *connect.BidiStream[testv1.CumSumRequest, testv1.CumSumResponse]) error {
	var sum int64
	for {
		msg, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			report(s.ended, nil)
			return nil
		}
		if err != nil {
			report(s.ended, err)
			return err
		}
		report(s.saw, msg.GetNumber())
		sum += msg.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: sum}); err != nil {
			return err
		}
	}
}

// v2Handler serves Sum and CumSum on a connect-go v2 server.
func (s *streamEnds) v2Handler() http.Handler {
	server := connectv2.NewServer()
	server.Register(
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeClient), Handler: s.v2Sum},
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeBidi), Handler: s.v2CumSum},
	)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	return mux
}

func (s *streamEnds) v2Sum(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	var sum int64
	for {
		var req testv1.SumRequest
		if err := stream.Receive(&req); errors.Is(err, io.EOF) {
			report(s.ended, nil)
			return stream.Send(&testv1.SumResponse{Sum: sum})
		} else if err != nil {
			report(s.ended, err)
			return err
		}
		report(s.saw, req.GetNumber())
		sum += req.GetNumber()
	}
}

func (s *streamEnds) v2CumSum(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	var sum int64
	for {
		var req testv1.CumSumRequest
		if err := stream.Receive(&req); errors.Is(err, io.EOF) {
			report(s.ended, nil)
			return nil
		} else if err != nil {
			report(s.ended, err)
			return err
		}
		report(s.saw, req.GetNumber())
		sum += req.GetNumber()
		var err error
		if req.GetNumber() == 0 {
			err = stream.SendHeaders()
		} else {
			err = stream.Send(&testv1.CumSumResponse{Sum: sum})
		}
		if err != nil {
			return err
		}
	}
}

// expectAbnormalEnds makes failRounds calls with fail, each failing its stream
// mid-way, and fails t if the server took any truncated request stream
// for a complete one.
func (s *streamEnds) expectAbnormalEnds(t *testing.T, fail func(ctx context.Context)) {
	t.Helper()
	clean := 0
	for range failRounds {
		ctx := testContext(t)
		fail(ctx)
		if s.awaitEnd(ctx, t) == nil {
			clean++
		}
	}
	if clean > 0 {
		t.Errorf("the server took %d of %d truncated request streams for complete ones", clean, failRounds)
	}
}

// awaitSaw waits until the server got the number want.
func (s *streamEnds) awaitSaw(ctx context.Context, t *testing.T, want int64) {
	t.Helper()
	select {
	case n := <-s.saw:
		assert.Equal(t, n, want)
	case <-ctx.Done():
		t.Fatal("the server never got the first message")
	}
}

// awaitEnd waits until the server's handler ends, and returns how its
// request stream ended: nil for a clean end.
func (s *streamEnds) awaitEnd(ctx context.Context, t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ended:
		return err
	case <-ctx.Done():
		t.Fatal("the server's handler never ended")
		return nil
	}
}

// failRounds is how many calls each case of TestFailedStreamEndsAbnormally
// makes. Before the fix, connect-go v2 bidi calls with a response in ended
// cleanly about one time in twenty: with two such cases, the test then
// failed in more than 99 runs in 100.
const failRounds = 50

// TestFailedStreamEndsAbnormally fails client and bidi streams after a
// valid message reached the server, with connect-go v1 and v2 clients over
// HTTP/2 (h2c; TLS runs the same net/http transport), call after call, and
// checks that the server's handler never sees
// the truncated request stream end cleanly. Bidi calls receive an answer
// before they fail, so that the response is in: net/http then ignores the
// cancellation until the response is closed, and closing the request
// first, as connect-go v2's Close does, can end the stream cleanly.
//
// Two cases are left out because nothing makes them exact (see the package
// documentation): HTTP/1.1, where the request body is closed a fixed delay
// after the cancellation, and connect-go v2 bidi streams on the Connect
// protocol with a response in, which connect-go v2 closes request first.
func TestFailedStreamEndsAbnormally(t *testing.T) {
	t.Parallel()
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		for _, st := range []connect.StreamType{connect.StreamTypeClient, connect.StreamTypeBidi} {
			name := p.String() + "/" + testkit.StreamTypeName(st)
			t.Run("v1/"+name, func(t *testing.T) {
				t.Parallel()
				ends := newStreamEnds()
				srv := testkit.NewServer(t, testkit.NewMux(ends), testkit.H2C)
				client := testkit.NewClient(srv, p, connect.WithInterceptors(validate.NewInterceptor()))
				ends.expectAbnormalEnds(t, func(ctx context.Context) { failV1(ctx, t, client, st, ends) })
			})
			if st == connect.StreamTypeBidi && p == testkit.ConnectProto {
				continue // closed request first by connect-go v2: see above
			}
			t.Run("v2/"+name, func(t *testing.T) {
				t.Parallel()
				ends := newStreamEnds()
				srv := testkit.NewServer(t, ends.v2Handler(), testkit.H2C)
				client := testkitv2.NewClient(srv, p, nil, validate.NewClientInterceptor())
				ends.expectAbnormalEnds(t, func(ctx context.Context) { failV2(ctx, t, client, st, ends) })
			})
		}
	}
}

// failV1 makes a connect-go v1 client or bidi call that sends 1, which
// the server gets (and, on a bidi stream, answers), then the invalid -1,
// and closes the call as its caller would.
func failV1(ctx context.Context, t *testing.T, client testv1connect.TestServiceClient, st connect.StreamType, ends *streamEnds) {
	t.Helper()
	if st == connect.StreamTypeClient {
		stream := client.Sum(ctx)
		assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
		ends.awaitSaw(ctx, t, 1)
		assert.Code(t, stream.Send(&testv1.SumRequest{Number: -1}), connect.CodeInvalidArgument)
		_, err := stream.CloseAndReceive()
		assert.Code(t, err, connect.CodeInvalidArgument)
		return
	}
	stream := client.CumSum(ctx)
	assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
	_, err := stream.Receive()
	assert.NoError(t, err)
	ends.awaitSaw(ctx, t, 1)
	assert.Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connect.CodeInvalidArgument)
	assert.NoError(t, stream.CloseRequest())
	assert.NoError(t, stream.CloseResponse())
}

// failV2 is failV1 with a connect-go v2 client.
func failV2(ctx context.Context, t *testing.T, client *connectv2.Client, st connect.StreamType, ends *streamEnds) {
	t.Helper()
	stream, err := client.CallClientStream(ctx, testkitv2.SpecOf(st))
	assert.NoError(t, err)
	if st == connect.StreamTypeClient {
		assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
		ends.awaitSaw(ctx, t, 1)
		v2Code(t, stream.Send(&testv1.SumRequest{Number: -1}), connectv2.CodeInvalidArgument)
		assert.NoError(t, stream.CloseSend())
		v2Code(t, stream.Receive(&testv1.SumResponse{}), connectv2.CodeInvalidArgument)
	} else {
		assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 1}))
		assert.NoError(t, stream.Receive(&testv1.CumSumResponse{}))
		ends.awaitSaw(ctx, t, 1)
		v2Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connectv2.CodeInvalidArgument)
		assert.NoError(t, stream.CloseSend())
	}
	assert.NoError(t, stream.Close())
}

// slowCancel is an HTTP client that passes the cancellation of a request
// on to net/http only after delay: a stand-in for a loaded machine, or for
// an HTTP client middleware slow to notice cancellation.
type slowCancel struct {
	client *http.Client
	delay  time.Duration
}

func (s slowCancel) Do(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	context.AfterFunc(req.Context(), func() { time.AfterFunc(s.delay, cancel) })
	return s.client.Do(req.WithContext(ctx))
}

// TestFailedStreamEndsAbnormallyWithSlowCancel fails a client stream, as
// TestFailedStreamEndsAbnormally does, with an HTTP client that passes the
// cancellation on to net/http 300 ms late, longer than the delay after
// which the request body of an HTTP/1.1 stream is closed: over HTTP/2 the
// request stream still does not end cleanly, as nothing closes it before
// net/http has acted on the cancellation, however long that takes. (Over
// HTTP/1.1 it would end cleanly: see the package documentation.)
func TestFailedStreamEndsAbnormallyWithSlowCancel(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		t.Run("v1/"+n.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, testkit.NewMux(ends), n)
			client := testv1connect.NewTestServiceClient(
				slowCancel{client: srv.Client, delay: delay}, srv.URL,
				connect.WithInterceptors(validate.NewInterceptor()),
			)
			ctx := testContext(t)
			failV1(ctx, t, client, connect.StreamTypeClient, ends)
			assert.Error(t, ends.awaitEnd(ctx, t), "the server took the truncated request stream for a complete one")
		})
		t.Run("v2/"+n.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, ends.v2Handler(), n)
			client := connectv2.NewClient(
				connecthttp.NewTransport(slowCancel{client: srv.Client, delay: delay}, srv.URL),
				validate.NewClientInterceptor(),
			)
			ctx := testContext(t)
			failV2(ctx, t, client, connect.StreamTypeClient, ends)
			assert.Error(t, ends.awaitEnd(ctx, t), "the server took the truncated request stream for a complete one")
		})
	}
}

// TestV2CloseUnblocksReceive checks that Close unblocks a Receive pending
// when a connect-go v2 bidi stream fails, as connect-go v2 promises, once
// the response has started: over HTTP/2 net/http then ignores the
// cancellation, and a Receive reading the response body waits until the
// stream is closed. How the server's request stream ends is not checked:
// closing the stream then closes its request first (see the package
// documentation).
func TestV2CloseUnblocksReceive(t *testing.T) {
	t.Parallel()
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ends := newStreamEnds()
			srv := testkit.NewServer(t, ends.v2Handler(), testkit.H2C)
			client := testkitv2.NewClient(srv, p, nil, validate.NewClientInterceptor())
			ctx := testContext(t)
			started := make(chan struct{})
			var once sync.Once
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				GotFirstResponseByte: func() { once.Do(func() { close(started) }) },
			})
			stream, err := client.CallClientStream(ctx, testkitv2.SpecOf(connect.StreamTypeBidi))
			assert.NoError(t, err)
			assert.NoError(t, stream.Send(&testv1.CumSumRequest{Number: 0})) // answered with headers alone
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("the response never started")
			}
			received := make(chan error, 1)
			go func() { received <- stream.Receive(&testv1.CumSumResponse{}) }()
			v2Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connectv2.CodeInvalidArgument)
			assert.NoError(t, stream.Close())
			select {
			case err := <-received:
				v2Code(t, err, connectv2.CodeInvalidArgument)
			case <-ctx.Done():
				t.Fatal("Close did not unblock the pending Receive")
			}
			ends.awaitEnd(ctx, t)
		})
	}
}
