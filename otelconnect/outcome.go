package otelconnect

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"go.opentelemetry.io/otel/codes"
)

// outcome is how a call ended, as an index: 0 is success, 1 to 16 are the
// RPC codes and outcomeNotModified is Connect's "304 Not Modified" sentinel,
// which is not a failure.
type outcome uint8

const (
	outcomeOK          outcome = 0
	outcomeNotModified outcome = 17
	numOutcomes                = 18
)

// outcomeOf classifies a call's error, of either connect-go major: a v1
// error first, then a v2 one (outcomeOfV2), or UNKNOWN.
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case connect.IsNotModifiedError(err):
		return outcomeNotModified
	}
	if e, ok := errors.AsType[*connect.Error](err); ok && e != nil {
		return outcomeOfCode(e.Code())
	}
	return outcomeOfV2(err)
}

// outcomeOfContext is the outcome of a call abandoned because its context
// ended: canceled or deadline exceeded.
func outcomeOfContext(ctx context.Context) outcome {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outcomeOfCode(connect.CodeDeadlineExceeded)
	}
	return outcomeOfCode(connect.CodeCanceled)
}

func outcomeOfCode(code connect.Code) outcome {
	if code < connect.CodeCanceled || code > connect.CodeUnauthenticated {
		code = connect.CodeUnknown
	}
	return outcome(code)
}

// failed reports whether the call failed (not modified is no failure).
func (o outcome) failed() bool { return o != outcomeOK && o != outcomeNotModified }

// code is the RPC code of a failed call.
func (o outcome) code() connect.Code { return connect.Code(o) }

// statusCode is rpc.response.status_code: "OK", or the code in upper case
// as gRPC spells it ("DEADLINE_EXCEEDED"), the way otelconnect v0.12 does
// (so Canceled is "CANCELED").
func (o outcome) statusCode() string {
	if !o.failed() {
		return "OK"
	}
	return strings.ToUpper(o.code().String())
}

// grpcStatusCode is the old rpc.grpc.status_code: 0 on success.
func (o outcome) grpcStatusCode() int64 {
	if !o.failed() {
		return 0
	}
	return int64(o.code())
}

// spanStatus is the span status the conventions give the call: clients
// fail on every error; servers only on errors that are the server's fault.
func (o outcome) spanStatus(isClient bool) codes.Code {
	if !o.failed() {
		return codes.Unset
	}
	if isClient {
		return codes.Error
	}
	switch o.code() {
	case connect.CodeUnknown,
		connect.CodeDeadlineExceeded,
		connect.CodeUnimplemented,
		connect.CodeInternal,
		connect.CodeUnavailable,
		connect.CodeDataLoss:
		return codes.Error
	}
	return codes.Unset
}

// errorMessage is the span status description of a failed call, of
// either connect-go major.
func errorMessage(err error) string {
	var connectErr *connect.Error
	if errors.As(err, &connectErr) {
		return connectErr.Message()
	}
	if e, ok := errors.AsType[*connectv2.Error](err); ok && e != nil {
		return e.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
