// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	official "connectrpc.com/validate"
	"google.golang.org/protobuf/proto"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

// The connect-go v1 API of connectrpc.com/validate v0.9.0, signature for
// signature, exists in ours: migrating is an import-path change. The first
// block pins ours, the second pins the official one to the same shapes, so
// a change on either side that breaks a caller fails to compile.
var (
	_ func(...validate.Option) *validate.Interceptor                                         = validate.NewInterceptor
	_ func(protovalidate.Validator) validate.Option                                          = validate.WithValidator
	_ func() validate.Option                                                                 = validate.WithValidateResponses
	_ func() validate.Option                                                                 = validate.WithoutErrorDetails
	_ func(*validate.Interceptor, connect.UnaryFunc) connect.UnaryFunc                       = (*validate.Interceptor).WrapUnary
	_ func(*validate.Interceptor, connect.StreamingClientFunc) connect.StreamingClientFunc   = (*validate.Interceptor).WrapStreamingClient
	_ func(*validate.Interceptor, connect.StreamingHandlerFunc) connect.StreamingHandlerFunc = (*validate.Interceptor).WrapStreamingHandler
	_ connect.Interceptor                                                                    = (*validate.Interceptor)(nil)
	_ connect.Option                                                                         = connect.WithInterceptors(validate.NewInterceptor())

	_ func(...official.Option) *official.Interceptor                                         = official.NewInterceptor
	_ func(protovalidate.Validator) official.Option                                          = official.WithValidator
	_ func() official.Option                                                                 = official.WithValidateResponses
	_ func() official.Option                                                                 = official.WithoutErrorDetails
	_ func(*official.Interceptor, connect.UnaryFunc) connect.UnaryFunc                       = (*official.Interceptor).WrapUnary
	_ func(*official.Interceptor, connect.StreamingClientFunc) connect.StreamingClientFunc   = (*official.Interceptor).WrapStreamingClient
	_ func(*official.Interceptor, connect.StreamingHandlerFunc) connect.StreamingHandlerFunc = (*official.Interceptor).WrapStreamingHandler
)

// migrated is a caller's code written against connectrpc.com/validate,
// with only the import path changed: it must keep compiling.
func migrated(validator protovalidate.Validator) []connect.HandlerOption {
	opts := []validate.Option{validate.WithValidateResponses()}
	if validator != nil {
		opts = append(opts, validate.WithValidator(validator))
	}
	opts = append(opts, validate.WithoutErrorDetails())
	interceptor := validate.NewInterceptor(opts...)
	return []connect.HandlerOption{connect.WithInterceptors(interceptor)}
}

var _ = migrated

// sameError fails the test unless ours and theirs are the same outcome:
// both nil, or the same code, message, cause and error details.
func sameError(t *testing.T, what string, ours, theirs error) {
	t.Helper()
	if (ours == nil) != (theirs == nil) {
		t.Fatalf("%s: ours %v, official %v", what, ours, theirs)
	}
	if ours == nil {
		return
	}
	if got, want := connect.CodeOf(ours), connect.CodeOf(theirs); got != want {
		t.Errorf("%s: code %v, official %v", what, got, want)
	}
	if got, want := ours.Error(), theirs.Error(); got != want {
		t.Errorf("%s: message %q, official %q", what, got, want)
	}
	var oursV, theirsV *protovalidate.ValidationError
	if errors.As(ours, &oursV) != errors.As(theirs, &theirsV) {
		t.Errorf("%s: only one error wraps a *protovalidate.ValidationError", what)
	}
	var oursC, theirsC *connect.Error
	if !errors.As(ours, &oursC) || !errors.As(theirs, &theirsC) {
		t.Fatalf("%s: not both *connect.Error: %T, %T", what, ours, theirs)
	}
	od, td := oursC.Details(), theirsC.Details()
	if len(od) != len(td) {
		t.Fatalf("%s: %d details, official %d", what, len(od), len(td))
	}
	for i := range od {
		if od[i].Type() != td[i].Type() {
			t.Errorf("%s: detail %d is %s, official %s", what, i, od[i].Type(), td[i].Type())
		}
		ov, oerr := od[i].Value()
		tv, terr := td[i].Value()
		if oerr != nil || terr != nil || !proto.Equal(ov, tv) {
			t.Errorf("%s: detail %d differs: %v (%v), official %v (%v)", what, i, ov, oerr, tv, terr)
		}
	}
}

// fakeHandlerConn hands out in on Receive and records Send.
type fakeHandlerConn struct {
	connect.StreamingHandlerConn // nil: only the methods below are called

	in   proto.Message
	sent int
}

func (*fakeHandlerConn) Spec() connect.Spec {
	return connect.Spec{Procedure: "/connectware.test.v1.TestService/Ping", StreamType: connect.StreamTypeBidi}
}

func (c *fakeHandlerConn) Receive(msg any) error {
	proto.Reset(msg.(proto.Message))
	proto.Merge(msg.(proto.Message), c.in)
	return nil
}

func (c *fakeHandlerConn) Send(any) error { c.sent++; return nil }

// fakeClientConn hands out in on Receive and records Send.
type fakeClientConn struct {
	connect.StreamingClientConn // nil: only the methods below are called

	in   proto.Message
	sent int
}

func (*fakeClientConn) Spec() connect.Spec {
	return connect.Spec{Procedure: "/connectware.test.v1.TestService/Ping", StreamType: connect.StreamTypeBidi, IsClient: true}
}

func (c *fakeClientConn) Receive(msg any) error {
	proto.Reset(msg.(proto.Message))
	proto.Merge(msg.(proto.Message), c.in)
	return nil
}

func (c *fakeClientConn) Send(any) error       { c.sent++; return nil }
func (c *fakeClientConn) CloseRequest() error  { return nil }
func (c *fakeClientConn) CloseResponse() error { return nil }

// TestSameBehaviour runs both interceptors, with the same options, on the
// same requests and responses, in every place a message passes (unary,
// stream handler Receive and Send, stream client Send and Receive), and
// checks that they agree: same outcome, code, message and details, and the
// same messages passed on.
func TestSameBehaviour(t *testing.T) {
	failFast, err := protovalidate.New(protovalidate.WithFailFast())
	if err != nil {
		t.Fatal(err)
	}
	type pair struct {
		ours   []validate.Option
		theirs []official.Option
	}
	options := map[string]pair{
		"default":               {},
		"WithValidateResponses": {[]validate.Option{validate.WithValidateResponses()}, []official.Option{official.WithValidateResponses()}},
		"WithoutErrorDetails": {
			[]validate.Option{validate.WithoutErrorDetails(), validate.WithValidateResponses()},
			[]official.Option{official.WithoutErrorDetails(), official.WithValidateResponses()},
		},
		"WithValidator": {
			[]validate.Option{validate.WithValidator(failFast), validate.WithValidateResponses()},
			[]official.Option{official.WithValidator(failFast), official.WithValidateResponses()},
		},
	}
	messages := map[string]*testv1.PingRequest{
		"valid":   validPing(),
		"invalid": invalidPing(),
		"empty":   {},
	}
	for optName, opts := range options {
		for reqName, req := range messages {
			for resName, res := range messages {
				t.Run(fmt.Sprintf("%s/request_%s/response_%s", optName, reqName, resName), func(t *testing.T) {
					ours := validate.NewInterceptor(opts.ours...)
					theirs := official.NewInterceptor(opts.theirs...)

					// Unary, as on a handler or a client.
					var oursCalls, theirsCalls int
					next := func(calls *int) connect.UnaryFunc {
						return func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
							*calls++
							return connect.NewResponse(res), nil
						}
					}
					_, oursErr := ours.WrapUnary(next(&oursCalls))(context.Background(), connect.NewRequest(req))
					_, theirsErr := theirs.WrapUnary(next(&theirsCalls))(context.Background(), connect.NewRequest(req))
					sameError(t, "unary", oursErr, theirsErr)
					if oursCalls != theirsCalls {
						t.Errorf("unary: next called %d times, official %d", oursCalls, theirsCalls)
					}

					// A stream handler receives req and sends res.
					handlerSide := func(i connect.Interceptor) (recvErr, sendErr error, sent int) {
						conn := &fakeHandlerConn{in: req}
						_ = i.WrapStreamingHandler(func(_ context.Context, conn connect.StreamingHandlerConn) error {
							recvErr = conn.Receive(&testv1.PingRequest{})
							sendErr = conn.Send(res)
							return nil
						})(context.Background(), conn)
						return recvErr, sendErr, conn.sent
					}
					oRecv, oSend, oSent := handlerSide(ours)
					tRecv, tSend, tSent := handlerSide(theirs)
					sameError(t, "handler Receive", oRecv, tRecv)
					sameError(t, "handler Send", oSend, tSend)
					if oSent != tSent {
						t.Errorf("handler: %d messages sent, official %d", oSent, tSent)
					}

					// A stream client sends req and receives res.
					clientSide := func(i connect.Interceptor) (sendErr, recvErr error, sent int) {
						inner := &fakeClientConn{in: res}
						conn := i.WrapStreamingClient(func(context.Context, connect.Spec) connect.StreamingClientConn {
							return inner
						})(context.Background(), inner.Spec())
						sendErr = conn.Send(req)
						if sendErr == nil { // ours fails the whole call after a failed Send
							recvErr = conn.Receive(&testv1.PingRequest{})
						}
						_ = conn.CloseRequest()
						_ = conn.CloseResponse()
						return sendErr, recvErr, inner.sent
					}
					oSend, oRecv, oSent = clientSide(ours)
					tSend, tRecv, tSent = clientSide(theirs)
					sameError(t, "client Send", oSend, tSend)
					sameError(t, "client Receive", oRecv, tRecv)
					if oSent != tSent {
						t.Errorf("client: %d messages sent, official %d", oSent, tSent)
					}
				})
			}
		}
	}
}

// brokenValidator fails every message with protovalidate's RuntimeError,
// as a rule that cannot be evaluated does.
type brokenValidator struct{}

func (brokenValidator) Validate(proto.Message, ...protovalidate.ValidationOption) error {
	return &protovalidate.RuntimeError{}
}

// TestDocumentedDifferences pins the one intended difference in codes: a
// broken rule is the server's fault, Internal here, where the official
// package blames the caller with InvalidArgument.
func TestDocumentedDifferences(t *testing.T) {
	next := func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return connect.NewResponse(&testv1.PingResponse{}), nil
	}
	req := connect.NewRequest(validPing())
	_, oursErr := validate.NewInterceptor(validate.WithValidator(brokenValidator{})).WrapUnary(next)(context.Background(), req)
	_, theirsErr := official.NewInterceptor(official.WithValidator(brokenValidator{})).WrapUnary(next)(context.Background(), req)
	if got := connect.CodeOf(oursErr); got != connect.CodeInternal {
		t.Errorf("ours: %v, want internal", got)
	}
	if got := connect.CodeOf(theirsErr); got != connect.CodeInvalidArgument {
		t.Errorf("official: %v, want invalid_argument (if this changed, update the package doc)", got)
	}
}
