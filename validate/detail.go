// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// violationsTypeName is the full name of buf.validate.Violations, the type
// of the error detail; violationsTypeURL is its Any type URL, built once
// instead of on every error.
var (
	violationsTypeName = string((*validatepb.Violations)(nil).ProtoReflect().Descriptor().FullName())
	violationsTypeURL  = "type.googleapis.com/" + violationsTypeName
)

// violationsValue serializes verr as a buf.validate.Violations message: the
// value of the error detail, whichever connect-go major carries it. It is
// proto.Marshal(verr.ToProto()) without the intermediate builder.
func violationsValue(verr *protovalidate.ValidationError) ([]byte, error) {
	list := make([]*validatepb.Violation, len(verr.Violations))
	for i, v := range verr.Violations {
		list[i] = v.Proto
	}
	msg := &validatepb.Violations{}
	msg.SetViolations(list)
	return proto.Marshal(msg)
}

// violationsDetail wraps a serialized buf.validate.Violations as a
// connect-go v1 error detail. It is what connect.NewErrorDetail(verr.ToProto())
// gives, with fewer allocations: no builder, no type URL concatenation.
func violationsDetail(value []byte) (*connect.ErrorDetail, error) {
	return connect.NewErrorDetail(&anypb.Any{TypeUrl: violationsTypeURL, Value: value})
}
