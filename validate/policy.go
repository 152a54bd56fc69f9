// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file holds what the interceptor decides: which messages to check,
// whether a message passes, which code a failure deserves, what the hook is
// told and which error detail is attached. It knows nothing of connect-go's
// interceptor types, so an adapter for a connect-go major only wires
// messages in and errors out: interceptor.go is the connect-go v1 adapter,
// v2.go the connect-go v2 one.

// config is the immutable result of the options.
type config struct {
	validator         protovalidate.Validator
	validateResponses bool
	noErrorDetails    bool
	ignoreMessages    map[protoreflect.FullName]struct{}
	ignoreProcedures  map[string]struct{}
	hook              func(context.Context, Failure)
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(c)
		}
	}
	if c.validator == nil {
		c.validator = protovalidate.GlobalValidator
	}
	return c
}

// Codes, as numbers shared by every connect-go major and by gRPC.
const (
	codeInvalidArgument uint32 = 3
	codeInternal        uint32 = 13
)

// verdict is the outcome of checking one message. The zero verdict means
// the message passes (or was not checked).
type verdict struct {
	reason     Reason
	code       uint32
	err        error
	violations *protovalidate.ValidationError
}

func (v verdict) ok() bool { return v.reason == 0 }

// skipsProcedure reports whether calls to procedure are exempt.
func (c *config) skipsProcedure(procedure string) bool {
	if len(c.ignoreProcedures) == 0 {
		return false
	}
	_, ok := c.ignoreProcedures[procedure]
	return ok
}

// checkRequest checks a request message.
func (c *config) checkRequest(msg any) verdict {
	return c.check(msg, false)
}

// checkResponse checks a response message, when responses are validated.
func (c *config) checkResponse(msg any) verdict {
	if !c.validateResponses {
		return verdict{}
	}
	return c.check(msg, true)
}

func (c *config) check(msg any, response bool) verdict {
	if msg == nil {
		return verdict{}
	}
	pm, ok := msg.(proto.Message)
	if !ok {
		return verdict{
			reason: ReasonNotProtobuf,
			code:   codeInternal,
			err:    fmt.Errorf("validate: %T is not a Protobuf message, so it cannot be validated", msg),
		}
	}
	if len(c.ignoreMessages) > 0 {
		if _, ok := c.ignoreMessages[pm.ProtoReflect().Descriptor().FullName()]; ok {
			return verdict{}
		}
	}
	err := c.validator.Validate(pm)
	if err == nil {
		return verdict{}
	}
	return classify(err, response)
}

// classify maps a validator error to a verdict. Only violated rules are the
// caller's fault; a rule that cannot compile or fails at run time is the
// schema's, so it is Internal even for requests.
func classify(err error, response bool) verdict {
	if violations := asValidationError(err); violations != nil {
		code := codeInvalidArgument
		if response {
			code = codeInternal
		}
		return verdict{reason: ReasonViolation, code: code, err: err, violations: violations}
	}
	reason := ReasonOther
	var compileErr *protovalidate.CompilationError
	var runtimeErr *protovalidate.RuntimeError
	switch {
	case errors.As(err, &compileErr):
		reason = ReasonCompilation
	case errors.As(err, &runtimeErr):
		reason = ReasonRuntime
	}
	return verdict{reason: reason, code: codeInternal, err: err}
}

// rejection is what the adapters share when they reject a message: it
// tells the hook (client says which side the interceptor runs on, response
// whether msg is a response) and returns the serialized
// buf.validate.Violations detail to attach to the error, or nil when there
// is none to attach. The adapter builds its connect-go major's error from
// v.code, v.err and the detail.
func (c *config) rejection(ctx context.Context, procedure string, client, response bool, msg any, v verdict) (detail []byte) {
	if v.violations != nil && !c.noErrorDetails {
		if value, err := violationsValue(v.violations); err == nil {
			detail = value
		}
	}
	if c.hook != nil {
		c.hook(ctx, newFailure(procedure, client, response, msg, v))
	}
	return detail
}

// asValidationError returns err as a *protovalidate.ValidationError, or nil.
// The direct type assertion covers protovalidate's own validators without
// the allocations of errors.As.
func asValidationError(err error) *protovalidate.ValidationError {
	if v, ok := err.(*protovalidate.ValidationError); ok {
		return v
	}
	var v *protovalidate.ValidationError
	if errors.As(err, &v) {
		return v
	}
	return nil
}
