// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// grpcRuleIDs checks that err is a gRPC InvalidArgument status and decodes
// its buf.validate.Violations detail the way a grpc-go user would.
func grpcRuleIDs(tb testing.TB, err error) []string {
	tb.Helper()
	st := status.Convert(err)
	assert.Equal(tb, st.Code(), codes.InvalidArgument, err)
	for _, d := range st.Details() {
		if v, ok := d.(*validatepb.Violations); ok {
			return violationIDs(v)
		}
	}
	tb.Fatalf("no Violations detail in %v", st.Details())
	return nil
}

// grpcStream opens a stream of kind st with conn, sends msgs, closes the
// sending side and returns the first receive error.
func grpcStream(tb testing.TB, conn *grpc.ClientConn, st connect.StreamType, msgs ...proto.Message) error {
	tb.Helper()
	desc := &grpc.StreamDesc{
		ClientStreams: st&connect.StreamTypeClient != 0,
		ServerStreams: st&connect.StreamTypeServer != 0,
	}
	stream, err := conn.NewStream(testContext(tb), desc, testkit.Procedure(st))
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.SendMsg(m); err != nil {
			break
		}
	}
	_ = stream.CloseSend()
	for {
		var res testv1.SumResponse // every response has an int64 field 1
		if err := stream.RecvMsg(&res); err != nil {
			return err
		}
	}
}

// TestGRPCGo checks that a grpc-go client gets InvalidArgument with a
// decodable Violations detail for every RPC kind, and that valid calls pass.
func TestGRPCGo(t *testing.T) {
	t.Parallel()
	h := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(validate.NewInterceptor()))
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		conn := testkit.GRPCConn(t, testkit.NewServer(t, h, n))
		for _, st := range testkit.StreamTypes() {
			t.Run(n.String()+"/grpc-go/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				assert.NoError(t, testkit.GRPCCall(testContext(t), conn, st), "valid call")
				var err error
				want := []string{"int64.gte_lte"}
				switch st {
				case connect.StreamTypeUnary:
					err = conn.Invoke(testContext(t), testkit.Procedure(st), invalidPing(), &testv1.PingResponse{})
					want = pingRuleIDs
				case connect.StreamTypeClient:
					err = grpcStream(t, conn, st, &testv1.SumRequest{Number: 1}, &testv1.SumRequest{Number: -1})
				case connect.StreamTypeServer:
					err = grpcStream(t, conn, st, &testv1.CountUpRequest{Number: -1})
				case connect.StreamTypeBidi:
					err = grpcStream(t, conn, st, &testv1.CumSumRequest{Number: 1}, &testv1.CumSumRequest{Number: -1})
				}
				assert.Equal(t, grpcRuleIDs(t, err), want)
			})
		}
	}
}
