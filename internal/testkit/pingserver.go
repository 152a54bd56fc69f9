package testkit

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// HeaderEcho is a request header whose values PingServer copies to the
// response headers and trailers of every call, so tests can see headers
// cross the wire in both directions.
const HeaderEcho = "X-Test-Echo"

// PingServer implements TestService:
//   - Ping echoes its request.
//   - Fail fails with the requested code and message.
//   - Sum returns the sum of the numbers received.
//   - CountUp streams 1 to the requested number.
//   - CumSum answers each number with the running sum.
//
// Each method calls OnCall, when set, with its context before doing anything
// else, so tests can observe what middleware put there.
type PingServer struct {
	testv1connect.UnimplementedTestServiceHandler

	// OnCall, when non-nil, is called with each call's context and
	// procedure. A non-nil error fails the call.
	OnCall func(ctx context.Context, procedure string) error
}

var _ testv1connect.TestServiceHandler = (*PingServer)(nil)

func (s *PingServer) enter(ctx context.Context, procedure string) error {
	if s.OnCall == nil {
		return nil
	}
	return s.OnCall(ctx, procedure)
}

func echo(req http.Header, header, trailer http.Header) {
	for _, v := range req.Values(HeaderEcho) {
		header.Add(HeaderEcho, v)
		trailer.Add(HeaderEcho+"-Trailer", v)
	}
}

// Ping echoes its request.
func (s *PingServer) Ping(ctx context.Context, req *connect.Request[testv1.PingRequest]) (*connect.Response[testv1.PingResponse], error) {
	if err := s.enter(ctx, testv1connect.TestServicePingProcedure); err != nil {
		return nil, err
	}
	res := connect.NewResponse(&testv1.PingResponse{
		Number: req.Msg.GetNumber(),
		Text:   req.Msg.GetText(),
		Tags:   req.Msg.GetTags(),
	})
	echo(req.Header(), res.Header(), res.Trailer())
	return res, nil
}

// Fail fails with the requested code (Unknown when it is out of range).
func (s *PingServer) Fail(ctx context.Context, req *connect.Request[testv1.FailRequest]) (*connect.Response[testv1.FailResponse], error) {
	if err := s.enter(ctx, testv1connect.TestServiceFailProcedure); err != nil {
		return nil, err
	}
	code := connect.Code(req.Msg.GetCode())
	if code < connect.CodeCanceled || code > connect.CodeUnauthenticated {
		code = connect.CodeUnknown
	}
	return nil, connect.NewError(code, errors.New(req.Msg.GetMessage()))
}

// Sum returns the sum of the numbers it receives.
func (s *PingServer) Sum(ctx context.Context, stream *connect.ClientStream[testv1.SumRequest]) (*connect.Response[testv1.SumResponse], error) {
	if err := s.enter(ctx, testv1connect.TestServiceSumProcedure); err != nil {
		return nil, err
	}
	var sum int64
	for stream.Receive() {
		sum += stream.Msg().GetNumber()
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	res := connect.NewResponse(&testv1.SumResponse{Sum: sum})
	echo(stream.RequestHeader(), res.Header(), res.Trailer())
	return res, nil
}

// CountUp streams 1 to the requested number.
func (s *PingServer) CountUp(ctx context.Context, req *connect.Request[testv1.CountUpRequest], stream *connect.ServerStream[testv1.CountUpResponse]) error {
	if err := s.enter(ctx, testv1connect.TestServiceCountUpProcedure); err != nil {
		return err
	}
	echo(req.Header(), stream.ResponseHeader(), stream.ResponseTrailer())
	for i := int64(1); i <= req.Msg.GetNumber(); i++ {
		if err := stream.Send(&testv1.CountUpResponse{Number: i}); err != nil {
			return err
		}
	}
	return nil
}

// CumSum answers each number it receives with the running sum.
func (s *PingServer) CumSum(ctx context.Context, stream *connect.BidiStream[testv1.CumSumRequest, testv1.CumSumResponse]) error {
	if err := s.enter(ctx, testv1connect.TestServiceCumSumProcedure); err != nil {
		return err
	}
	echo(stream.RequestHeader(), stream.ResponseHeader(), stream.ResponseTrailer())
	var sum int64
	for {
		msg, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		sum += msg.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: sum}); err != nil {
			return err
		}
	}
}
