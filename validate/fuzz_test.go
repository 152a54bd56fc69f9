// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

// FuzzPingRequest decodes arbitrary bytes into a PingRequest, as a server
// would, and sends it through the interceptor: it never panics, lets the
// request through exactly when protovalidate finds it valid, and otherwise
// fails with InvalidArgument and a detail listing the same violations.
func FuzzPingRequest(f *testing.F) {
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
	f.Add([]byte{0x1a, 0x00, 0x1a, 0x00, 0x1a, 0x00})                               // empty tags
	f.Add([]byte{0x12, 0x02, 0xff, 0xfe})                                           // text not UTF-8

	var seen int
	unary := validate.NewInterceptor(validate.WithFailureHook(func(context.Context, validate.Failure) { seen++ })).
		WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
			return connect.NewResponse(&testv1.PingResponse{}), nil
		})
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := &testv1.PingRequest{}
		if err := proto.Unmarshal(data, msg); err != nil {
			return // the codec rejects these before any interceptor runs
		}
		seen = 0
		_, err := unary(context.Background(), connect.NewRequest(msg))
		want := protovalidate.Validate(msg)
		if want == nil {
			assert.NoError(t, err)
			assert.Equal(t, seen, 0)
			return
		}
		assert.Code(t, err, connect.CodeInvalidArgument)
		assert.Equal(t, ruleIDs(t, err), violationIDs(violationsOf(t, want).ToProto()))
		assert.Equal(t, seen, 1)
	})
}
