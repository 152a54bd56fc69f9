// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An Option configures an [Interceptor] or the connect-go v2 interceptors
// built by [NewServerInterceptor] and [NewClientInterceptor].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithValidator makes the interceptor use validator instead of
// [protovalidate.GlobalValidator], for instance one built with
// [protovalidate.New] and [protovalidate.WithFailFast] or
// [protovalidate.WithDisableLazy]. A nil validator keeps the default.
func WithValidator(validator protovalidate.Validator) Option {
	return optionFunc(func(c *config) {
		c.validator = validator
	})
}

// WithValidateResponses makes the interceptor validate responses too: the
// unary response and every message sent by a handler or received by a
// client on a stream. An invalid response fails with [connect.CodeInternal].
// By default responses are not validated.
func WithValidateResponses() Option {
	return optionFunc(func(c *config) {
		c.validateResponses = true
	})
}

// WithoutErrorDetails leaves the buf.validate.Violations error detail out
// of validation errors. The error message still lists the violations.
func WithoutErrorDetails() Option {
	return optionFunc(func(c *config) {
		c.noErrorDetails = true
	})
}

// WithIgnoreMessages exempts the types of msgs from validation, wherever
// they appear: request or response, handler or client. Only the type of
// each message counts; a typed nil such as (*pb.Ping)(nil) is enough.
// Calling it more than once adds to the list.
func WithIgnoreMessages(msgs ...proto.Message) Option {
	return optionFunc(func(c *config) {
		for _, msg := range msgs {
			if msg == nil {
				continue
			}
			if c.ignoreMessages == nil {
				c.ignoreMessages = make(map[protoreflect.FullName]struct{}, len(msgs))
			}
			c.ignoreMessages[msg.ProtoReflect().Descriptor().FullName()] = struct{}{}
		}
	})
}

// WithIgnoreProcedures exempts whole procedures from validation, requests
// and responses alike. Procedures are written as connect-go writes them,
// "/package.Service/Method" (the generated ...Procedure constants). Calling
// it more than once adds to the list.
func WithIgnoreProcedures(procedures ...string) Option {
	return optionFunc(func(c *config) {
		for _, procedure := range procedures {
			if c.ignoreProcedures == nil {
				c.ignoreProcedures = make(map[string]struct{}, len(procedures))
			}
			c.ignoreProcedures[procedure] = struct{}{}
		}
	})
}

// WithFailureHook makes the interceptor call hook once for every message
// it rejects, before the error is returned, with the call's context. Use it
// to count or log invalid messages. The hook runs on the RPC's goroutine and
// must be safe for concurrent use; it cannot change the outcome. Calling it
// again replaces the hook.
func WithFailureHook(hook func(ctx context.Context, failure Failure)) Option {
	return optionFunc(func(c *config) {
		c.hook = hook
	})
}
