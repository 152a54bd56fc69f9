package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"connectrpc.com/connect"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// Procedure returns the TestService procedure of the given kind: Ping, Sum,
// CountUp or CumSum.
func Procedure(st connect.StreamType) string {
	switch st {
	case connect.StreamTypeClient:
		return testv1connect.TestServiceSumProcedure
	case connect.StreamTypeServer:
		return testv1connect.TestServiceCountUpProcedure
	case connect.StreamTypeBidi:
		return testv1connect.TestServiceCumSumProcedure
	}
	return testv1connect.TestServicePingProcedure
}

// Call makes one call of kind st with client, sending header, and checks the
// answer PingServer gives: Ping(42), Sum(1, 2, 3) = 6, CountUp(3) = 1, 2, 3,
// CumSum(1, 2, 3) = 1, 3, 6. It returns the call's error (a *connect.Error
// for RPC failures) or an error describing a wrong answer, and the response
// header and trailer.
func Call(ctx context.Context, client testv1connect.TestServiceClient, st connect.StreamType, header http.Header) (resHeader, resTrailer http.Header, err error) {
	switch st {
	case connect.StreamTypeUnary:
		req := connect.NewRequest(&testv1.PingRequest{Number: 42, Text: "ping"})
		copyHeader(req.Header(), header)
		res, err := client.Ping(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		if res.Msg.GetNumber() != 42 || res.Msg.GetText() != "ping" {
			return res.Header(), res.Trailer(), fmt.Errorf("ping: got %v", res.Msg)
		}
		return res.Header(), res.Trailer(), nil
	case connect.StreamTypeClient:
		stream := client.Sum(ctx)
		copyHeader(stream.RequestHeader(), header)
		for _, n := range []int64{1, 2, 3} {
			if err := stream.Send(&testv1.SumRequest{Number: n}); err != nil {
				break // the real error comes from CloseAndReceive
			}
		}
		res, err := stream.CloseAndReceive()
		if err != nil {
			return nil, nil, err
		}
		if res.Msg.GetSum() != 6 {
			return res.Header(), res.Trailer(), fmt.Errorf("sum: got %d, want 6", res.Msg.GetSum())
		}
		return res.Header(), res.Trailer(), nil
	case connect.StreamTypeServer:
		req := connect.NewRequest(&testv1.CountUpRequest{Number: 3})
		copyHeader(req.Header(), header)
		stream, err := client.CountUp(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		var got []int64
		for stream.Receive() {
			got = append(got, stream.Msg().GetNumber())
		}
		err = stream.Err()
		closeErr := stream.Close()
		if err != nil {
			return stream.ResponseHeader(), stream.ResponseTrailer(), err
		}
		if closeErr != nil {
			return stream.ResponseHeader(), stream.ResponseTrailer(), closeErr
		}
		if !slices.Equal(got, []int64{1, 2, 3}) {
			return stream.ResponseHeader(), stream.ResponseTrailer(), fmt.Errorf("count up: got %v", got)
		}
		return stream.ResponseHeader(), stream.ResponseTrailer(), nil
	case connect.StreamTypeBidi:
		stream := client.CumSum(ctx)
		copyHeader(stream.RequestHeader(), header)
		var got []int64
		for _, n := range []int64{1, 2, 3} {
			if err := stream.Send(&testv1.CumSumRequest{Number: n}); err != nil {
				break // the real error comes from Receive
			}
			res, err := stream.Receive()
			if err != nil {
				break
			}
			got = append(got, res.GetSum())
		}
		_ = stream.CloseRequest()
		var err error
		for {
			_, err = stream.Receive()
			if err != nil {
				break
			}
		}
		_ = stream.CloseResponse()
		if !errors.Is(err, io.EOF) {
			return stream.ResponseHeader(), stream.ResponseTrailer(), err
		}
		if !slices.Equal(got, []int64{1, 3, 6}) {
			return stream.ResponseHeader(), stream.ResponseTrailer(), fmt.Errorf("cum sum: got %v", got)
		}
		return stream.ResponseHeader(), stream.ResponseTrailer(), nil
	}
	return nil, nil, fmt.Errorf("testkit: unknown stream type %v", st)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
