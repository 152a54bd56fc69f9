// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// brokenMessage builds, at run time, a message type "Broken" in package pkg
// whose int64 field "number" carries the CEL rule expr.
func brokenMessage(tb testing.TB, pkg, expr string) protoreflect.MessageDescriptor {
	tb.Helper()
	rules := validatepb.FieldRules_builder{
		Cel: []*validatepb.Rule{validatepb.Rule_builder{
			Id:         proto.String("broken"),
			Expression: proto.String(expr),
		}.Build()},
	}.Build()
	opts := &descriptorpb.FieldOptions{}
	proto.SetExtension(opts, validatepb.E_Field, rules)
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("connectware/validate/" + pkg + ".proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Broken"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name:     proto.String("number"),
				JsonName: proto.String("number"),
				Number:   proto.Int32(1),
				Type:     descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Options:  opts,
			}},
		}},
	}
	fd, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	assert.NoError(tb, err)
	return fd.Messages().ByName("Broken")
}

// TestBrokenRules checks that a rule that does not compile, and one that
// fails at run time, give Internal without a Violations detail, on the
// handler (whose code never runs) and on the client (nothing is sent), and
// that the hook sees the right reason.
func TestBrokenRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		expr   string
		number int64
		reason validate.Reason
	}{
		{"compilation", "this +", 1, validate.ReasonCompilation},
		{"runtime", "[1, 2][this] == 1", 5, validate.ReasonRuntime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			md := brokenMessage(t, "connectware.validate.broken"+tc.name, tc.expr)
			// protovalidate itself reports the expected kind of error.
			msg := dynamicpb.NewMessage(md)
			msg.Set(md.Fields().ByName("number"), protoreflect.ValueOfInt64(tc.number))
			perr := protovalidate.Validate(msg)
			switch tc.reason {
			case validate.ReasonCompilation:
				var cerr *protovalidate.CompilationError
				assert.True(t, errors.As(perr, &cerr), perr)
			case validate.ReasonRuntime:
				var rerr *protovalidate.RuntimeError
				assert.True(t, errors.As(perr, &rerr), perr)
			}

			var (
				mu      sync.Mutex
				reasons []validate.Reason
			)
			hook := validate.WithFailureHook(func(_ context.Context, f validate.Failure) {
				mu.Lock()
				reasons = append(reasons, f.Reason)
				mu.Unlock()
			})
			interceptor := validate.NewInterceptor(hook)
			var calls, requests atomic.Int64
			procedure := "/connectware.validate.broken" + tc.name + ".Service/Check"
			handler := connect.NewUnaryHandler(procedure,
				func(context.Context, *connect.Request[dynamicpb.Message]) (*connect.Response[emptypb.Empty], error) {
					calls.Add(1)
					return connect.NewResponse(&emptypb.Empty{}), nil
				},
				connect.WithRequestInitializer(func(_ connect.Spec, m any) error {
					*m.(*dynamicpb.Message) = *dynamicpb.NewMessage(md)
					return nil
				}),
				connect.WithInterceptors(interceptor),
			)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				handler.ServeHTTP(w, r)
			})
			testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
				newClient := func(opts ...connect.ClientOption) *connect.Client[dynamicpb.Message, emptypb.Empty] {
					all := append(c.Protocol.ClientOptions(), opts...)
					return connect.NewClient[dynamicpb.Message, emptypb.Empty](c.Server.Client, c.Server.URL+procedure, all...)
				}
				t.Run("unary/handler", func(t *testing.T) {
					_, err := newClient().CallUnary(testContext(t), connect.NewRequest(msg))
					assert.Code(t, err, connect.CodeInternal)
					assert.True(t, !hasDetails(err), "no Violations detail for a broken rule")
					assert.Equal(t, calls.Load(), int64(0), "the handler ran")
				})
				t.Run("unary/client", func(t *testing.T) {
					before := requests.Load()
					_, err := newClient(connect.WithInterceptors(interceptor)).CallUnary(testContext(t), connect.NewRequest(msg))
					assert.Code(t, err, connect.CodeInternal)
					assert.Equal(t, requests.Load(), before, "the call reached the server")
				})
			})
			mu.Lock()
			defer mu.Unlock()
			assert.True(t, len(reasons) > 0)
			for _, r := range reasons {
				assert.Equal(t, r, tc.reason)
			}
		})
	}
}
