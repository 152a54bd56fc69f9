// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// forBothSides runs fn for each protocol over h2c twice: once with
// interceptor on the handler, once on the client (with a plain handler).
func forBothSides(t *testing.T, interceptor *validate.Interceptor, fn func(t *testing.T, client testv1connect.TestServiceClient)) {
	t.Helper()
	guarded := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor)), testkit.H2C)
	plain := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	for _, p := range testkit.Protocols() {
		t.Run("h2c/"+p.String()+"/handler", func(t *testing.T) {
			fn(t, testkit.NewClient(guarded, p))
		})
		t.Run("h2c/"+p.String()+"/client", func(t *testing.T) {
			fn(t, testkit.NewClient(plain, p, connect.WithInterceptors(interceptor)))
		})
	}
}

// pingPassesSumFails checks that an invalid Ping goes through while an
// invalid Sum is still rejected.
func pingPassesSumFails(t *testing.T, client testv1connect.TestServiceClient) {
	t.Helper()
	ctx := testContext(t)
	res, err := client.Ping(ctx, connect.NewRequest(invalidPing()))
	assert.NoError(t, err, "Ping must not be validated")
	assert.Equal(t, res.Msg.GetNumber(), int64(-1))
	assert.Code(t, callInvalid(ctx, client, connect.StreamTypeClient, false), connect.CodeInvalidArgument, "Sum is still validated")
}

func TestIgnoreProcedures(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(
		validate.WithIgnoreProcedures(testv1connect.TestServicePingProcedure),
	), pingPassesSumFails)
}

func TestIgnoreMessages(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(
		validate.WithIgnoreMessages((*testv1.PingRequest)(nil)),
	), pingPassesSumFails)
}

// streamsPassPingFails checks that invalid messages, first or mid-stream,
// go through on all three kinds of stream while an invalid Ping is still
// rejected.
func streamsPassPingFails(t *testing.T, client testv1connect.TestServiceClient) {
	t.Helper()
	ctx := testContext(t)
	for _, st := range []connect.StreamType{connect.StreamTypeClient, connect.StreamTypeServer, connect.StreamTypeBidi} {
		for _, late := range []bool{false, true} {
			err := callInvalid(ctx, client, st, late)
			if st == connect.StreamTypeBidi && errors.Is(err, io.EOF) {
				err = nil // callInvalid reads a bidi stream to its end
			}
			assert.NoError(t, err, testkit.StreamTypeName(st), "must not be validated, late:", late)
		}
	}
	_, err := client.Ping(ctx, connect.NewRequest(invalidPing()))
	assert.Code(t, err, connect.CodeInvalidArgument, "Ping is still validated")
}

// TestIgnoreStreamingProcedures checks that the procedure list exempts
// streams too, on handlers and clients.
func TestIgnoreStreamingProcedures(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(
		validate.WithIgnoreProcedures(testv1connect.TestServiceSumProcedure, testv1connect.TestServiceCountUpProcedure),
		validate.WithIgnoreProcedures(testv1connect.TestServiceCumSumProcedure), // lists add up
	), streamsPassPingFails)
}

// TestIgnoreStreamingMessages checks that the message list exempts the
// messages of streams too, on handlers and clients.
func TestIgnoreStreamingMessages(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(
		validate.WithIgnoreMessages((*testv1.SumRequest)(nil), (*testv1.CountUpRequest)(nil)),
		validate.WithIgnoreMessages(nil, (*testv1.CumSumRequest)(nil)), // lists add up; nil is skipped
	), streamsPassPingFails)
}

// TestWithoutErrorDetails checks that the detail goes but the code and the
// message listing the violations stay.
func TestWithoutErrorDetails(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(validate.WithoutErrorDetails()), func(t *testing.T, client testv1connect.TestServiceClient) {
		_, err := client.Ping(testContext(t), connect.NewRequest(invalidPing()))
		assert.Code(t, err, connect.CodeInvalidArgument)
		assert.True(t, !hasDetails(err), "error has details")
		assert.Contains(t, err.Error(), "validation errors")
		assert.Contains(t, err.Error(), "tags")
	})
}

// TestFailureHook checks what the hook is told, for requests and responses
// on handlers and clients, and that valid calls do not call it.
func TestFailureHook(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		failures []validate.Failure
	)
	interceptor := validate.NewInterceptor(
		validate.WithValidator(responseRules{}),
		validate.WithValidateResponses(),
		validate.WithFailureHook(func(ctx context.Context, f validate.Failure) {
			assert.True(t, ctx != nil)
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		}),
	)
	take := func() []validate.Failure {
		mu.Lock()
		defer mu.Unlock()
		out := failures
		failures = nil
		return out
	}
	guarded := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor)), testkit.H2C)
	plain := testkit.NewServer(t, testkit.NewMux(&testkit.PingServer{}), testkit.H2C)
	for _, isClient := range []bool{false, true} {
		client := testkit.NewClient(guarded, testkit.ConnectProto)
		if isClient {
			client = testkit.NewClient(plain, testkit.ConnectProto, connect.WithInterceptors(interceptor))
		}
		ctx := testContext(t)
		_, err := client.Ping(ctx, connect.NewRequest(&testv1.PingRequest{Number: 1}))
		assert.NoError(t, err)
		assert.Equal(t, len(take()), 0, "hook called for a valid call")

		_, err = client.Ping(ctx, connect.NewRequest(invalidPing()))
		assert.Code(t, err, connect.CodeInvalidArgument)
		got := take()
		assert.Equal(t, len(got), 1)
		f := got[0]
		assert.Equal(t, f.Procedure, testv1connect.TestServicePingProcedure)
		assert.Equal(t, f.Client, isClient)
		assert.Equal(t, f.Response, false)
		assert.Equal(t, f.Reason, validate.ReasonViolation)
		assert.Equal(t, f.Reason.String(), "violation")
		assert.Equal(t, f.Code, connect.CodeInvalidArgument)
		assert.Equal(t, len(f.Violations()), 3)
		_, isPing := f.Message.(*testv1.PingRequest)
		assert.True(t, isPing, "Message is the request")
		var verr *protovalidate.ValidationError
		assert.True(t, errors.As(f.Err, &verr))

		// A response of 5 breaks responseRules.
		_, err = client.Ping(ctx, connect.NewRequest(&testv1.PingRequest{Number: 5}))
		assert.Code(t, err, connect.CodeInternal)
		got = take()
		assert.Equal(t, len(got), 1)
		assert.Equal(t, got[0].Response, true)
		assert.Equal(t, got[0].Client, isClient)
		assert.Equal(t, got[0].Code, connect.CodeInternal)
		_, isPingRes := got[0].Message.(*testv1.PingResponse)
		assert.True(t, isPingRes, "Message is the response")
	}
}

func TestReasonString(t *testing.T) {
	t.Parallel()
	want := map[validate.Reason]string{
		validate.ReasonViolation:   "violation",
		validate.ReasonCompilation: "compilation",
		validate.ReasonRuntime:     "runtime",
		validate.ReasonNotProtobuf: "not_protobuf",
		validate.ReasonOther:       "other",
		validate.Reason(0):         "unknown",
	}
	for r, s := range want {
		assert.Equal(t, r.String(), s)
	}
}

// failingValidator returns an error of its own kind for every message.
type failingValidator struct{}

func (failingValidator) Validate(proto.Message, ...protovalidate.ValidationOption) error {
	return errors.New("validator unavailable")
}

// TestOtherValidatorError checks that an error other than a violation from
// a custom validator is Internal, not InvalidArgument.
func TestOtherValidatorError(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(validate.WithValidator(failingValidator{})), func(t *testing.T, client testv1connect.TestServiceClient) {
		_, err := client.Ping(testContext(t), connect.NewRequest(&testv1.PingRequest{}))
		assert.Code(t, err, connect.CodeInternal)
		assert.True(t, strings.Contains(err.Error(), "validator unavailable"), err)
	})
}

// TestNilMessages checks that a nil or typed-nil request is validated as
// the empty message it is sent as, without panicking.
func TestNilMessages(t *testing.T) {
	t.Parallel()
	forBothSides(t, validate.NewInterceptor(), func(t *testing.T, client testv1connect.TestServiceClient) {
		_, err := client.Ping(testContext(t), connect.NewRequest[testv1.PingRequest](nil))
		assert.NoError(t, err)
	})
}

// TestDetailMatchesToProto checks that the detail carries exactly
// protovalidate's own Violations message.
func TestDetailMatchesToProto(t *testing.T) {
	t.Parallel()
	unary := validate.NewInterceptor().WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return nil, errors.New("the handler must not run")
	})
	_, err := unary(context.Background(), connect.NewRequest(invalidPing()))
	var cerr *connect.Error
	assert.True(t, errors.As(err, &cerr))
	assert.Equal(t, len(cerr.Details()), 1)
	assert.Equal(t, cerr.Details()[0].Type(), "buf.validate.Violations")
	got, derr := cerr.Details()[0].Value()
	assert.NoError(t, derr)
	want := violationsOf(t, protovalidate.Validate(invalidPing())).ToProto()
	assert.True(t, proto.Equal(got, want), got)
}
