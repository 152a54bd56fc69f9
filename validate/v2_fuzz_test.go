// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"testing"

	"buf.build/go/protovalidate"
	connectv2 "connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

// bytesStream is a connect-go v2 server stream whose one request is data,
// decoded as the server's codec would.
type bytesStream struct {
	data []byte
	sent int
}

func (s *bytesStream) Receive(msg any) error {
	return proto.Unmarshal(s.data, msg.(proto.Message))
}

func (*bytesStream) SendHeaders() error { return nil }
func (s *bytesStream) Send(any) error   { s.sent++; return nil }

// FuzzPingRequestV2 decodes arbitrary bytes into a PingRequest on a
// connect-go v2 server stream with NewServerInterceptor: it never panics,
// lets the request through to the handler exactly when protovalidate finds
// it valid, and otherwise fails with InvalidArgument and a detail listing
// the same violations.
func FuzzPingRequestV2(f *testing.F) {
	for _, msg := range []*testv1.PingRequest{
		{},
		{Number: 42, Text: "ping", Tags: []string{"a"}},
		{Number: 1000001},
		invalidPing(),
	} {
		data, err := proto.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // number = -1
	f.Add([]byte{0x12, 0x02, 0xff, 0xfe})                                           // text not UTF-8

	var seen int
	handler := validate.NewServerInterceptor(validate.WithFailureHook(func(context.Context, validate.Failure) { seen++ }))(
		func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
			var req testv1.PingRequest
			if err := stream.Receive(&req); err != nil {
				return err
			}
			return stream.Send(&testv1.PingResponse{})
		})
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := &testv1.PingRequest{}
		if err := proto.Unmarshal(data, msg); err != nil {
			return // the codec rejects these before any validation
		}
		seen = 0
		stream := &bytesStream{data: data}
		err := handler(context.Background(), pingSpec, stream)
		want := protovalidate.Validate(msg)
		if want == nil {
			assert.NoError(t, err)
			assert.Equal(t, stream.sent, 1, "the handler answered")
			assert.Equal(t, seen, 0)
			return
		}
		v2Code(t, err, connectv2.CodeInvalidArgument)
		assert.Equal(t, v2RuleIDs(t, err), violationIDs(violationsOf(t, want).ToProto()))
		assert.Equal(t, stream.sent, 0, "the handler answered an invalid request")
		assert.Equal(t, seen, 1)
	})
}
