package testkit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
)

// GRPCConn returns a grpc-go ClientConn to s, which must speak H2C or TLS.
// opts are added after the transport credentials. The connection is closed
// with t.Cleanup.
func GRPCConn(tb testing.TB, s *Server, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	var creds credentials.TransportCredentials
	switch s.Network {
	case H2C:
		creds = insecure.NewCredentials()
	case TLS:
		creds = credentials.NewTLS(s.TLSConfig.Clone())
	default:
		tb.Fatalf("testkit: grpc-go needs HTTP/2, not %v", s.Network)
	}
	target := "passthrough:///" + strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	all := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		tb.Fatalf("testkit: grpc.NewClient: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// GRPCCall makes the same calls as Call with a grpc-go ClientConn, using the
// generated messages directly (no grpc-go stubs are generated), and checks
// the answers. Errors are grpc-go status errors.
func GRPCCall(ctx context.Context, conn *grpc.ClientConn, st connect.StreamType, opts ...grpc.CallOption) error {
	method := Procedure(st)
	switch st {
	case connect.StreamTypeUnary:
		res := &testv1.PingResponse{}
		if err := conn.Invoke(ctx, method, &testv1.PingRequest{Number: 42, Text: "ping"}, res, opts...); err != nil {
			return err
		}
		if res.GetNumber() != 42 {
			return fmt.Errorf("ping: got %v", res)
		}
		return nil
	case connect.StreamTypeClient:
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, method, opts...)
		if err != nil {
			return err
		}
		for _, n := range []int64{1, 2, 3} {
			if err := stream.SendMsg(&testv1.SumRequest{Number: n}); err != nil {
				break
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		res := &testv1.SumResponse{}
		if err := stream.RecvMsg(res); err != nil {
			return err
		}
		if res.GetSum() != 6 {
			return fmt.Errorf("sum: got %d", res.GetSum())
		}
		return nil
	case connect.StreamTypeServer:
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, opts...)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(&testv1.CountUpRequest{Number: 3}); err != nil {
			return err
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		var got []int64
		for {
			res := &testv1.CountUpResponse{}
			if err := stream.RecvMsg(res); err != nil {
				if isEOF(err) {
					break
				}
				return err
			}
			got = append(got, res.GetNumber())
		}
		if !slices.Equal(got, []int64{1, 2, 3}) {
			return fmt.Errorf("count up: got %v", got)
		}
		return nil
	case connect.StreamTypeBidi:
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, opts...)
		if err != nil {
			return err
		}
		var got []int64
		for _, n := range []int64{1, 2, 3} {
			if err := stream.SendMsg(&testv1.CumSumRequest{Number: n}); err != nil {
				break
			}
			res := &testv1.CumSumResponse{}
			if err := stream.RecvMsg(res); err != nil {
				return err
			}
			got = append(got, res.GetSum())
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		if err := stream.RecvMsg(&testv1.CumSumResponse{}); !isEOF(err) {
			return err
		}
		if !slices.Equal(got, []int64{1, 3, 6}) {
			return fmt.Errorf("cum sum: got %v", got)
		}
		return nil
	}
	return fmt.Errorf("testkit: unknown stream type %v", st)
}
