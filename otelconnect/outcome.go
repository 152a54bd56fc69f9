package otelconnect

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"

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

// errorCoding is how connect-go codes an error that is not one of its
// *Error values, for one major and side: a call is recorded with the code
// its peer sees (handlers), or the code connect-go gives the errors of the
// calls it makes (clients). Each follows connect-go's code exactly:
// wrapIfContextError and wrapIfUncoded in v1's error.go and v2's
// connecthttp/error.go, and v2's scrubHandlerError.
type errorCoding uint8

const (
	// codingV1 is connect-go v1's, on handlers and clients: an *Error
	// keeps its code; context.Canceled is CANCELED; context.DeadlineExceeded
	// and os.ErrDeadlineExceeded are DEADLINE_EXCEEDED; a write to a client
	// that went away (EPIPE, ECONNRESET, "client disconnected", "http2:
	// stream closed") is CANCELED; anything else is UNKNOWN.
	codingV1 errorCoding = iota
	// codingV2Client is connect-go v2's on clients, which codes errors as
	// v1 does (a connect-go v2 *Error keeps its code).
	codingV2Client
	// codingV2Server is connect-go v2's on handlers: a local *Error keeps
	// its code, but a remote one (a peer's verdict the handler returned)
	// is INTERNAL; context errors are coded as on v1, and anything else,
	// a client-disconnect error included, is UNKNOWN.
	codingV2Server
)

// outcome classifies a call's error as connect-go codes it.
func (k errorCoding) outcome(err error) outcome {
	if err == nil {
		return outcomeOK
	}
	if k == codingV1 {
		if connect.IsNotModifiedError(err) {
			return outcomeNotModified
		}
		if e, ok := errors.AsType[*connect.Error](err); ok && e != nil {
			return outcomeOfCode(e.Code())
		}
	} else {
		if isNotModifiedV2(err) {
			return outcomeNotModified
		}
		if e, ok := errors.AsType[*connectv2.Error](err); ok && e != nil {
			if k == codingV2Server && e.IsRemote() {
				return outcomeOfCode(connect.CodeInternal)
			}
			// Codes have the same values in both majors.
			return outcomeOfCode(connect.Code(e.Code()))
		}
	}
	return outcomeOfCode(uncodedCode(err, k != codingV2Server))
}

// uncodedCode is the code connect-go gives an error that is none of its
// own: CANCELED or DEADLINE_EXCEEDED for context errors, CANCELED for a
// client-disconnect error when disconnects is true, or UNKNOWN.
func uncodedCode(err error, disconnects bool) connect.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		// Some dial errors are os.ErrDeadlineExceeded
		// (https://github.com/golang/go/issues/64449).
		return connect.CodeDeadlineExceeded
	case disconnects && isClientDisconnected(err):
		return connect.CodeCanceled
	}
	return connect.CodeUnknown
}

// Messages of net/http's unexported errors for a write to a stream the
// client has abandoned, as connect-go matches them.
const (
	clientDisconnectedMessage = "client disconnected"
	streamClosedMessage       = "http2: stream closed"
)

// isClientDisconnected reports whether err is a write failure caused by the
// client going away, as connect-go's function of the same name does: the
// request's context may not be done yet when the write fails
// (https://github.com/golang/go/issues/52183).
func isClientDisconnected(err error) bool {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := err.Error()
	return msg == clientDisconnectedMessage || msg == streamClosedMessage
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
