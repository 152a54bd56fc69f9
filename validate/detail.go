// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// violationsTypeURL is the Any type URL of buf.validate.Violations, built
// once instead of on every error.
var violationsTypeURL = "type.googleapis.com/" +
	string((*validatepb.Violations)(nil).ProtoReflect().Descriptor().FullName())

// violationsDetail returns the buf.validate.Violations error detail for
// verr. It is what connect.NewErrorDetail(verr.ToProto()) gives, with
// fewer allocations: no builder, no type URL concatenation.
func violationsDetail(verr *protovalidate.ValidationError) (*connect.ErrorDetail, error) {
	list := make([]*validatepb.Violation, len(verr.Violations))
	for i, v := range verr.Violations {
		list[i] = v.Proto
	}
	msg := &validatepb.Violations{}
	msg.SetViolations(list)
	value, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return connect.NewErrorDetail(&anypb.Any{TypeUrl: violationsTypeURL, Value: value})
}
