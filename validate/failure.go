// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
)

// Failure describes one message the interceptor rejected. It is passed to
// the hook set with [WithFailureHook].
type Failure struct {
	// Procedure is the RPC, as "/package.Service/Method".
	Procedure string
	// Client is true when the interceptor runs in a client, false in a
	// handler.
	Client bool
	// Response is true when the rejected message is a response, false for
	// a request.
	Response bool
	// Message is the rejected message. The hook must not keep or modify it.
	Message any
	// Reason says why the message was rejected.
	Reason Reason
	// Code is the code the call fails with: [connect.CodeInvalidArgument]
	// for a request that violates its rules, [connect.CodeInternal] for
	// everything else. It has the connect-go v1 type; the interceptors for
	// connect-go v2 report the same values, which convert as they are.
	Code connect.Code
	// Err is the cause: a *[protovalidate.ValidationError] when rules are
	// violated, a *[protovalidate.CompilationError] or
	// *[protovalidate.RuntimeError] when a rule is broken, or an error
	// saying that Message is not a Protobuf message.
	Err error
}

// newFailure describes a rejected message for the hook.
func newFailure(procedure string, client, response bool, msg any, v verdict) Failure {
	return Failure{
		Procedure: procedure,
		Client:    client,
		Response:  response,
		Message:   msg,
		Reason:    v.reason,
		Code:      connect.Code(v.code),
		Err:       v.err,
	}
}

// Violations returns the violated rules when Reason is [ReasonViolation],
// and nil otherwise.
func (f Failure) Violations() []*protovalidate.Violation {
	if v := asValidationError(f.Err); v != nil {
		return v.Violations
	}
	return nil
}

// Reason classifies a [Failure]. Its String form suits a metric label.
type Reason int

const (
	// ReasonViolation means the message breaks one or more of its rules.
	ReasonViolation Reason = iota + 1
	// ReasonCompilation means a rule of the message's schema cannot be
	// compiled (a *protovalidate.CompilationError).
	ReasonCompilation
	// ReasonRuntime means a rule failed while it ran (a
	// *protovalidate.RuntimeError).
	ReasonRuntime
	// ReasonNotProtobuf means the message is not a proto.Message, which
	// happens only with a custom codec.
	ReasonNotProtobuf
	// ReasonOther means a custom validator returned an error of another
	// kind.
	ReasonOther
)

// String returns "violation", "compilation", "runtime", "not_protobuf" or
// "other".
func (r Reason) String() string {
	switch r {
	case ReasonViolation:
		return "violation"
	case ReasonCompilation:
		return "compilation"
	case ReasonRuntime:
		return "runtime"
	case ReasonNotProtobuf:
		return "not_protobuf"
	case ReasonOther:
		return "other"
	}
	return "unknown"
}
