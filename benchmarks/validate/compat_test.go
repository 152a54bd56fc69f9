// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
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

// The connect-go v2 constructors of connectrpc.com/validate v0.9.0 exist in
// ours with the same signatures, and take the same options.
var (
	_ func(...validate.Option) connectv2.ServerInterceptor = validate.NewServerInterceptor
	_ func(...validate.Option) connectv2.ClientInterceptor = validate.NewClientInterceptor

	_ func(...official.Option) connectv2.ServerInterceptor = official.NewServerInterceptor
	_ func(...official.Option) connectv2.ClientInterceptor = official.NewClientInterceptor
)

// migratedV2 is a connect-go v2 caller's code written against
// connectrpc.com/validate, with only the import path changed: it must keep
// compiling.
func migratedV2(transport connectv2.Transport, validator protovalidate.Validator) (*connectv2.Server, *connectv2.Client) {
	opts := []validate.Option{validate.WithValidateResponses(), validate.WithoutErrorDetails()}
	if validator != nil {
		opts = append(opts, validate.WithValidator(validator))
	}
	server := connectv2.NewServer(validate.NewServerInterceptor(opts...))
	client := connectv2.NewClient(transport, validate.NewClientInterceptor(opts...))
	return server, client
}

var _ = migratedV2

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

// fakeServerStream is a connect-go v2 server stream that hands out in on
// Receive and records Send.
type fakeServerStream struct {
	in   proto.Message
	sent int
}

func (s *fakeServerStream) Receive(msg any) error {
	proto.Reset(msg.(proto.Message))
	proto.Merge(msg.(proto.Message), s.in)
	return nil
}

func (*fakeServerStream) SendHeaders() error { return nil }
func (s *fakeServerStream) Send(any) error   { s.sent++; return nil }

// fakeClientStream is a connect-go v2 client stream that hands out in on
// Receive and records Send.
type fakeClientStream struct {
	fakeServerStream
}

func (*fakeClientStream) CloseSend() error { return nil }
func (*fakeClientStream) Close() error     { return nil }

// v2Spec is the Spec the connect-go v2 fakes run under.
var v2Spec = connectv2.Spec{Procedure: "/connectware.test.v1.TestService/Ping", StreamType: connectv2.StreamTypeBidi}

// sameErrorV2 is sameError for connect-go v2 errors.
func sameErrorV2(t *testing.T, what string, ours, theirs error) {
	t.Helper()
	if (ours == nil) != (theirs == nil) {
		t.Fatalf("%s: ours %v, official %v", what, ours, theirs)
	}
	if ours == nil {
		return
	}
	if got, want := connectv2.CodeOf(ours), connectv2.CodeOf(theirs); got != want {
		t.Errorf("%s: code %v, official %v", what, got, want)
	}
	if got, want := ours.Error(), theirs.Error(); got != want {
		t.Errorf("%s: message %q, official %q", what, got, want)
	}
	var oursV, theirsV *protovalidate.ValidationError
	if errors.As(ours, &oursV) != errors.As(theirs, &theirsV) {
		t.Errorf("%s: only one error wraps a *protovalidate.ValidationError", what)
	}
	var oursC, theirsC *connectv2.Error
	if !errors.As(ours, &oursC) || !errors.As(theirs, &theirsC) {
		t.Fatalf("%s: not both *connect.Error (v2): %T, %T", what, ours, theirs)
	}
	od, td := oursC.Details(), theirsC.Details()
	if len(od) != len(td) {
		t.Fatalf("%s: %d details, official %d", what, len(od), len(td))
	}
	for i := range od {
		if od[i].Type != td[i].Type {
			t.Errorf("%s: detail %d is %s, official %s", what, i, od[i].Type, td[i].Type)
		}
		ov, oerr := connectproto.UnmarshalErrorDetail(od[i])
		tv, terr := connectproto.UnmarshalErrorDetail(td[i])
		if oerr != nil || terr != nil || !proto.Equal(ov, tv) {
			t.Errorf("%s: detail %d differs: %v (%v), official %v (%v)", what, i, ov, oerr, tv, terr)
		}
	}
}

// TestSameBehaviour runs both interceptors, with the same options, on the
// same requests and responses, in every place a message passes (unary,
// stream handler Receive and Send, stream client Send and Receive, with
// connect-go v1's NewInterceptor and with connect-go v2's
// NewServerInterceptor and NewClientInterceptor), and checks that they
// agree: same outcome, code, message and details, and the same messages
// passed on.
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

					// connect-go v2: a server receives req and sends res.
					serverSide := func(interceptor connectv2.ServerInterceptor) (recvErr, sendErr error, sent int) {
						stream := &fakeServerStream{in: req}
						_ = interceptor(func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
							recvErr = stream.Receive(&testv1.PingRequest{})
							sendErr = stream.Send(res)
							return nil
						})(context.Background(), v2Spec, stream)
						return recvErr, sendErr, stream.sent
					}
					oRecv, oSend, oSent = serverSide(validate.NewServerInterceptor(opts.ours...))
					tRecv, tSend, tSent = serverSide(official.NewServerInterceptor(opts.theirs...))
					sameErrorV2(t, "v2 server Receive", oRecv, tRecv)
					sameErrorV2(t, "v2 server Send", oSend, tSend)
					if oSent != tSent {
						t.Errorf("v2 server: %d messages sent, official %d", oSent, tSent)
					}

					// connect-go v2: a client sends req and receives res.
					clientSideV2 := func(interceptor connectv2.ClientInterceptor) (sendErr, recvErr error, sent int) {
						inner := &fakeClientStream{fakeServerStream{in: res}}
						stream, err := interceptor(func(context.Context, connectv2.Spec) (connectv2.ClientStream, error) {
							return inner, nil
						})(context.Background(), v2Spec)
						if err != nil {
							t.Fatal(err)
						}
						sendErr = stream.Send(req)
						if sendErr == nil { // ours fails the whole call after a failed Send
							recvErr = stream.Receive(&testv1.PingRequest{})
						}
						_ = stream.CloseSend()
						_ = stream.Close()
						return sendErr, recvErr, inner.sent
					}
					oSend, oRecv, oSent = clientSideV2(validate.NewClientInterceptor(opts.ours...))
					tSend, tRecv, tSent = clientSideV2(official.NewClientInterceptor(opts.theirs...))
					sameErrorV2(t, "v2 client Send", oSend, tSend)
					sameErrorV2(t, "v2 client Receive", oRecv, tRecv)
					if oSent != tSent {
						t.Errorf("v2 client: %d messages sent, official %d", oSent, tSent)
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
// package blames the caller with InvalidArgument, on connect-go v1 and v2.
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

	// The same on connect-go v2 servers.
	receive := func(interceptor connectv2.ServerInterceptor) error {
		return interceptor(func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
			return stream.Receive(&testv1.PingRequest{})
		})(context.Background(), v2Spec, &fakeServerStream{in: validPing()})
	}
	if got := connectv2.CodeOf(receive(validate.NewServerInterceptor(validate.WithValidator(brokenValidator{})))); got != connectv2.CodeInternal {
		t.Errorf("ours (v2): %v, want internal", got)
	}
	if got := connectv2.CodeOf(receive(official.NewServerInterceptor(official.WithValidator(brokenValidator{})))); got != connectv2.CodeInvalidArgument {
		t.Errorf("official (v2): %v, want invalid_argument (if this changed, update the package doc)", got)
	}
}
