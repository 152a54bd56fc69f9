// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/validate"
)

// wantRuleIDs is what v2CallInvalid's invalid message violates.
func wantRuleIDs(st connect.StreamType) []string {
	if st == connect.StreamTypeUnary {
		return pingRuleIDs
	}
	return []string{"int64.gte_lte"}
}

// TestV2Handler runs every network, connect-go v2 protocol and RPC kind
// against a connect-go v2 server with NewServerInterceptor: valid calls
// pass, an invalid request (first or mid-stream) fails with InvalidArgument
// and a decodable Violations detail, and the handler never sees the invalid
// message.
func TestV2Handler(t *testing.T) {
	t.Parallel()
	svc := &v2Service{}
	v2Matrix(t, svc.handler(validate.NewServerInterceptor()), func(t *testing.T, c v2Case) {
		client := c.client()
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.network, st) {
				continue // bidi streaming needs HTTP/2: covered over h2c and tls
			}
			t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				ctx := testContext(t)
				assert.NoError(t, v2CallValid(ctx, client, st), "valid call")
				for _, late := range []bool{false, true} {
					if late && st&connect.StreamTypeClient == 0 {
						continue // one request message only
					}
					err := v2CallInvalid(ctx, client, st, late)
					v2Code(t, err, connectv2.CodeInvalidArgument, "late:", late)
					assert.Equal(t, v2RuleIDs(t, err), wantRuleIDs(st))
				}
				assert.Equal(t, svc.negatives(), 0, "handler saw an invalid message")
			})
		}
	})
}

// TestV2Client runs every network, connect-go v2 protocol and RPC kind
// with NewClientInterceptor on the client and none on the server: an
// invalid request fails locally with InvalidArgument and a Violations
// detail, and when it is the first message no HTTP request is made at all
// (not even a late one: the calls are marked, and the server watches for
// them after the last call); mid-stream, the invalid message never reaches
// the server.
func TestV2Client(t *testing.T) {
	t.Parallel()
	svc := &v2Service{}
	// The invalid calls get a context that outlives their subtests, so that
	// a request wrongly started in the background is not canceled before
	// the server can see it.
	longCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v2Matrix(t, svc.handler(), func(t *testing.T, c v2Case) {
		client := c.client(validate.NewClientInterceptor())
		marked := c.client(v2MarkInvalid, validate.NewClientInterceptor())
		for _, st := range testkit.StreamTypes() {
			t.Run(testkit.StreamTypeName(st)+"/client", func(t *testing.T) {
				ctx := testContext(t)
				if testkit.SupportsStream(c.network, st) {
					assert.NoError(t, v2CallValid(ctx, client, st), "valid call")
				}
				err := v2CallInvalid(longCtx, marked, st, false)
				v2Code(t, err, connectv2.CodeInvalidArgument)
				assert.Equal(t, v2RuleIDs(t, err), wantRuleIDs(st))
				// Marked requests only: on a busy machine an earlier call's
				// request may reach the server late, and count in requests.
				assert.Equal(t, svc.strays.Load(), int64(0), "an invalid call reached the server")

				if st&connect.StreamTypeClient != 0 && testkit.SupportsStream(c.network, st) {
					err := v2CallInvalid(ctx, client, st, true)
					v2Code(t, err, connectv2.CodeInvalidArgument, "mid-stream")
					assert.Equal(t, v2RuleIDs(t, err), wantRuleIDs(st))
				}
				assert.Equal(t, svc.negatives(), 0, "an invalid message reached the server")
			})
		}
	})
	svc.noStrays(t)
}

// TestV2ClientSendError checks that on a connect-go v2 client the failing
// Send itself returns the validation error, that the stream stays failed
// afterwards, that CloseSend and Close send nothing, and that a server
// stream whose request is invalid is never opened.
func TestV2ClientSendError(t *testing.T) {
	t.Parallel()
	svc := &v2Service{}
	longCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testkit.NewServer(t, svc.handler(), testkit.H2C)
	for _, p := range v2Protocols() {
		t.Run("h2c/v2/"+p.name+"/bidi_stream/client", func(t *testing.T) {
			client := v2Client(srv, p, v2MarkInvalid, validate.NewClientInterceptor())
			stream, err := client.CallClientStream(longCtx, testkitv2.SpecOf(connect.StreamTypeBidi))
			assert.NoError(t, err)
			v2Code(t, stream.Send(&testv1.CumSumRequest{Number: -1}), connectv2.CodeInvalidArgument)
			v2Code(t, stream.Send(&testv1.CumSumRequest{Number: 1}), connectv2.CodeInvalidArgument, "a failed stream stays failed")
			v2Code(t, stream.SendHeaders(), connectv2.CodeInvalidArgument, "a failed stream stays failed")
			v2Code(t, stream.Receive(&testv1.CumSumResponse{}), connectv2.CodeInvalidArgument)
			assert.NoError(t, stream.CloseSend())
			assert.NoError(t, stream.Close())
			assert.NoError(t, stream.Close(), "Close is idempotent")

			_, err = client.CallServerStream(longCtx, testkitv2.SpecOf(connect.StreamTypeServer), &testv1.CountUpRequest{Number: -1})
			v2Code(t, err, connectv2.CodeInvalidArgument, "server stream")
			assert.Equal(t, svc.requests.Load(), int64(0))
		})
	}
	svc.noStrays(t)
}

// TestV2ClientMidStream checks that when a connect-go v2 client stream
// fails after the request is on the wire (a valid message sent, or only
// the headers, once the server's handler runs), the call fails locally,
// the invalid message never reaches the server, and the server's handler
// ends; over HTTP/2 it sees the request stream end with an error, never
// cleanly: the stream is canceled, not closed. (Over HTTP/1.1 that rests
// on timing: see the package documentation.)
func TestV2ClientMidStream(t *testing.T) {
	t.Parallel()
	svc := &v2Service{sumStarted: make(chan struct{}, 1), sumEnded: make(chan error, 1), sumSaw: make(chan int64, 1)}
	v2Matrix(t, svc.handler(), func(t *testing.T, c v2Case) {
		for _, headersOnly := range []bool{false, true} {
			name := "client_stream/client/after_message"
			if headersOnly {
				name = "client_stream/client/after_headers"
			}
			t.Run(name, func(t *testing.T) {
				ctx := testContext(t)
				stream, err := c.client(validate.NewClientInterceptor()).CallClientStream(ctx, testkitv2.SpecOf(connect.StreamTypeClient))
				assert.NoError(t, err)
				if headersOnly {
					assert.NoError(t, stream.SendHeaders())
				} else {
					assert.NoError(t, stream.Send(&testv1.SumRequest{Number: 1}))
				}
				select {
				case <-svc.sumStarted:
				case <-ctx.Done():
					t.Fatal("the server's handler never started")
				}
				if !headersOnly {
					select {
					case n := <-svc.sumSaw:
						assert.Equal(t, n, int64(1))
					case <-ctx.Done():
						t.Fatal("the server never got the first message")
					}
				}
				v2Code(t, stream.Send(&testv1.SumRequest{Number: -1}), connectv2.CodeInvalidArgument)
				assert.NoError(t, stream.CloseSend())
				v2Code(t, stream.Receive(&testv1.SumResponse{}), connectv2.CodeInvalidArgument)
				assert.NoError(t, stream.Close())
				select {
				case err := <-svc.sumEnded:
					if c.network.HTTP2() { // over HTTP/1.1 it rests on timing
						assert.Error(t, err, "the server took the canceled stream for a complete one")
					}
				case <-ctx.Done():
					t.Fatal("the server's handler never ended")
				}
				assert.Equal(t, svc.negatives(), 0)
			})
		}
	})
}

// TestV2Responses checks that with WithValidateResponses an invalid
// response fails with Internal and a Violations detail, on connect-go v2
// servers and clients, for every RPC kind, and that without it responses
// pass.
func TestV2Responses(t *testing.T) {
	t.Parallel()
	opts := []validate.Option{validate.WithValidator(responseRules{}), validate.WithValidateResponses()}
	lax := validate.WithValidator(responseRules{})
	strictSrv := (&v2Service{}).handler(validate.NewServerInterceptor(opts...))
	laxSrv := (&v2Service{}).handler(validate.NewServerInterceptor(lax))
	plainSrv := (&v2Service{}).handler()
	mux := http.NewServeMux()
	mux.Handle("/strict/", http.StripPrefix("/strict", strictSrv))
	mux.Handle("/lax/", http.StripPrefix("/lax", laxSrv))
	mux.Handle("/", plainSrv)
	v2Matrix(t, mux, func(t *testing.T, c v2Case) {
		prefixed := func(prefix string, interceptors ...connectv2.ClientInterceptor) *connectv2.Client {
			transport := connecthttp.NewTransport(c.server.Client, c.server.URL+prefix, c.protocol.opts...)
			return connectv2.NewClient(transport, interceptors...)
		}
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.network, st) {
				continue
			}
			name := testkit.StreamTypeName(st)
			t.Run(name+"/handler", func(t *testing.T) {
				ctx := testContext(t)
				err := v2CallValid(ctx, prefixed("/strict"), st)
				v2Code(t, err, connectv2.CodeInternal)
				assert.Equal(t, v2RuleIDs(t, err), []string{"int64.gte_lte"})
				assert.NoError(t, v2CallValid(ctx, prefixed("/lax"), st), "responses are not validated by default")
			})
			t.Run(name+"/client", func(t *testing.T) {
				ctx := testContext(t)
				err := v2CallValid(ctx, prefixed("", validate.NewClientInterceptor(opts...)), st)
				v2Code(t, err, connectv2.CodeInternal)
				assert.Equal(t, v2RuleIDs(t, err), []string{"int64.gte_lte"})
				assert.NoError(t, v2CallValid(ctx, prefixed("", validate.NewClientInterceptor(lax)), st), "responses are not validated by default")
			})
		}
	})
}

// v2BothSides runs fn for each connect-go v2 protocol over h2c twice: once
// with opts on the server's interceptor, once on the client's (with a plain
// server).
func v2BothSides(t *testing.T, opts []validate.Option, fn func(t *testing.T, client *connectv2.Client)) {
	t.Helper()
	guarded := testkit.NewServer(t, (&v2Service{}).handler(validate.NewServerInterceptor(opts...)), testkit.H2C)
	plain := testkit.NewServer(t, (&v2Service{}).handler(), testkit.H2C)
	for _, p := range v2Protocols() {
		t.Run("h2c/v2/"+p.name+"/handler", func(t *testing.T) {
			fn(t, v2Client(guarded, p))
		})
		t.Run("h2c/v2/"+p.name+"/client", func(t *testing.T) {
			fn(t, v2Client(plain, p, validate.NewClientInterceptor(opts...)))
		})
	}
}

// v2PingPassesStreamsFail checks that an invalid Ping goes through while
// invalid messages on every kind of stream are still rejected.
func v2PingPassesStreamsFail(t *testing.T, client *connectv2.Client) {
	t.Helper()
	ctx := testContext(t)
	var res testv1.PingResponse
	assert.NoError(t, client.CallUnary(ctx, testkitv2.SpecOf(connect.StreamTypeUnary), invalidPing(), &res), "Ping must not be validated")
	assert.Equal(t, res.GetNumber(), int64(-1))
	for _, st := range []connect.StreamType{connect.StreamTypeClient, connect.StreamTypeServer, connect.StreamTypeBidi} {
		v2Code(t, v2CallInvalid(ctx, client, st, false), connectv2.CodeInvalidArgument, testkit.StreamTypeName(st), "is still validated")
	}
}

// v2StreamsPassPingFails checks that invalid messages, first or
// mid-stream, go through on all three kinds of stream while an invalid
// Ping is still rejected.
func v2StreamsPassPingFails(t *testing.T, client *connectv2.Client) {
	t.Helper()
	ctx := testContext(t)
	for _, st := range []connect.StreamType{connect.StreamTypeClient, connect.StreamTypeServer, connect.StreamTypeBidi} {
		for _, late := range []bool{false, true} {
			err := v2CallInvalid(ctx, client, st, late)
			if st != connect.StreamTypeClient && errors.Is(err, io.EOF) {
				err = nil // v2CallInvalid reads these streams to their end
			}
			assert.NoError(t, err, testkit.StreamTypeName(st), "must not be validated, late:", late)
		}
	}
	v2Code(t, client.CallUnary(ctx, testkitv2.SpecOf(connect.StreamTypeUnary), invalidPing(), &testv1.PingResponse{}),
		connectv2.CodeInvalidArgument, "Ping is still validated")
}

// TestV2IgnoreProcedures checks the procedure list on connect-go v2
// servers and clients, for unary calls and streams.
func TestV2IgnoreProcedures(t *testing.T) {
	t.Parallel()
	t.Run("unary", func(t *testing.T) {
		v2BothSides(t, []validate.Option{
			validate.WithIgnoreProcedures(testv1connect.TestServicePingProcedure),
		}, v2PingPassesStreamsFail)
	})
	t.Run("streams", func(t *testing.T) {
		v2BothSides(t, []validate.Option{
			validate.WithIgnoreProcedures(testv1connect.TestServiceSumProcedure, testv1connect.TestServiceCountUpProcedure),
			validate.WithIgnoreProcedures(testv1connect.TestServiceCumSumProcedure),
		}, v2StreamsPassPingFails)
	})
}

// TestV2IgnoreMessages checks the message list on connect-go v2 servers
// and clients, for unary calls and streams.
func TestV2IgnoreMessages(t *testing.T) {
	t.Parallel()
	t.Run("unary", func(t *testing.T) {
		v2BothSides(t, []validate.Option{
			validate.WithIgnoreMessages((*testv1.PingRequest)(nil)),
		}, v2PingPassesStreamsFail)
	})
	t.Run("streams", func(t *testing.T) {
		v2BothSides(t, []validate.Option{
			validate.WithIgnoreMessages((*testv1.SumRequest)(nil), (*testv1.CountUpRequest)(nil), (*testv1.CumSumRequest)(nil)),
		}, v2StreamsPassPingFails)
	})
}

// TestV2WithoutErrorDetails checks that the detail goes but the code and
// the message listing the violations stay.
func TestV2WithoutErrorDetails(t *testing.T) {
	t.Parallel()
	v2BothSides(t, []validate.Option{validate.WithoutErrorDetails()}, func(t *testing.T, client *connectv2.Client) {
		err := client.CallUnary(testContext(t), testkitv2.SpecOf(connect.StreamTypeUnary), invalidPing(), &testv1.PingResponse{})
		v2Code(t, err, connectv2.CodeInvalidArgument)
		assert.True(t, !v2HasDetails(err), "error has details")
		assert.Contains(t, err.Error(), "validation errors")
		assert.Contains(t, err.Error(), "tags")
	})
}

// TestV2FailureHook checks what the hook is told by the connect-go v2
// interceptors, for requests and responses on servers and clients, and
// that valid calls do not call it.
func TestV2FailureHook(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		failures []validate.Failure
	)
	opts := []validate.Option{
		validate.WithValidator(responseRules{}),
		validate.WithValidateResponses(),
		validate.WithFailureHook(func(ctx context.Context, f validate.Failure) {
			assert.True(t, ctx != nil)
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		}),
	}
	take := func() []validate.Failure {
		mu.Lock()
		defer mu.Unlock()
		out := failures
		failures = nil
		return out
	}
	guarded := testkit.NewServer(t, (&v2Service{}).handler(validate.NewServerInterceptor(opts...)), testkit.H2C)
	plain := testkit.NewServer(t, (&v2Service{}).handler(), testkit.H2C)
	spec := testkitv2.SpecOf(connect.StreamTypeUnary)
	for _, isClient := range []bool{false, true} {
		client := v2Client(guarded, v2Protocols()[0])
		if isClient {
			client = v2Client(plain, v2Protocols()[0], validate.NewClientInterceptor(opts...))
		}
		ctx := testContext(t)
		assert.NoError(t, client.CallUnary(ctx, spec, &testv1.PingRequest{Number: 1}, &testv1.PingResponse{}))
		assert.Equal(t, len(take()), 0, "hook called for a valid call")

		v2Code(t, client.CallUnary(ctx, spec, invalidPing(), &testv1.PingResponse{}), connectv2.CodeInvalidArgument)
		got := take()
		assert.Equal(t, len(got), 1)
		f := got[0]
		assert.Equal(t, f.Procedure, testv1connect.TestServicePingProcedure)
		assert.Equal(t, f.Client, isClient)
		assert.Equal(t, f.Response, false)
		assert.Equal(t, f.Reason, validate.ReasonViolation)
		assert.Equal(t, f.Code, connect.CodeInvalidArgument)
		assert.Equal(t, len(f.Violations()), 3)
		_, isPing := f.Message.(*testv1.PingRequest)
		assert.True(t, isPing, "Message is the request")
		var verr *protovalidate.ValidationError
		assert.True(t, errors.As(f.Err, &verr))

		// A response of 5 breaks responseRules.
		v2Code(t, client.CallUnary(ctx, spec, &testv1.PingRequest{Number: 5}, &testv1.PingResponse{}), connectv2.CodeInternal)
		got = take()
		assert.Equal(t, len(got), 1)
		assert.Equal(t, got[0].Response, true)
		assert.Equal(t, got[0].Client, isClient)
		assert.Equal(t, got[0].Code, connect.CodeInternal)
		_, isPingRes := got[0].Message.(*testv1.PingResponse)
		assert.True(t, isPingRes, "Message is the response")
	}
}

// TestV2OtherValidatorError checks that an error other than a violation
// from a custom validator is Internal on connect-go v2 too.
func TestV2OtherValidatorError(t *testing.T) {
	t.Parallel()
	v2BothSides(t, []validate.Option{validate.WithValidator(failingValidator{})}, func(t *testing.T, client *connectv2.Client) {
		err := client.CallUnary(testContext(t), testkitv2.SpecOf(connect.StreamTypeUnary), &testv1.PingRequest{}, &testv1.PingResponse{})
		v2Code(t, err, connectv2.CodeInternal)
		assert.Contains(t, err.Error(), "validator unavailable")
	})
}

// TestV2GRPCGo checks that a grpc-go client talking to a connect-go v2
// server with NewServerInterceptor gets InvalidArgument with a decodable
// Violations detail for every RPC kind, and that valid calls pass.
func TestV2GRPCGo(t *testing.T) {
	t.Parallel()
	h := (&v2Service{}).handler(validate.NewServerInterceptor())
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		conn := testkit.GRPCConn(t, testkit.NewServer(t, h, n))
		for _, st := range testkit.StreamTypes() {
			t.Run(n.String()+"/v2/grpc-go/"+testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
				assert.NoError(t, testkit.GRPCCall(testContext(t), conn, st), "valid call")
				var err error
				switch st {
				case connect.StreamTypeUnary:
					err = conn.Invoke(testContext(t), testkit.Procedure(st), invalidPing(), &testv1.PingResponse{})
				case connect.StreamTypeClient:
					err = grpcStream(t, conn, st, &testv1.SumRequest{Number: 1}, &testv1.SumRequest{Number: -1})
				case connect.StreamTypeServer:
					err = grpcStream(t, conn, st, &testv1.CountUpRequest{Number: -1})
				case connect.StreamTypeBidi:
					err = grpcStream(t, conn, st, &testv1.CumSumRequest{Number: 1}, &testv1.CumSumRequest{Number: -1})
				}
				assert.Equal(t, grpcRuleIDs(t, err), wantRuleIDs(st))
			})
		}
	}
}

// TestV2BrokenRules checks that on connect-go v2 a rule that does not
// compile, and one that fails at run time, give Internal without a
// Violations detail, on the server (whose handler never runs) and on the
// client (nothing is sent), and that the hook sees the right reason.
func TestV2BrokenRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		expr   string
		number int64
		reason validate.Reason
	}{
		{"compilation", "this +", 1, validate.ReasonCompilation},
		{"runtime", "[1, 2][this] == 1", 5, validate.ReasonRuntime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pkg := "connectware.validate.v2broken" + tc.name
			md := brokenMessage(t, pkg, tc.expr)
			msg := dynamicpb.NewMessage(md)
			msg.Set(md.Fields().ByName("number"), protoreflect.ValueOfInt64(tc.number))
			var reasons, calls atomic.Int64
			opt := validate.WithFailureHook(func(_ context.Context, f validate.Failure) {
				if f.Reason == tc.reason && f.Code == connect.CodeInternal {
					reasons.Add(1)
				}
			})
			spec := connectv2.Spec{StreamType: connectv2.StreamTypeUnary, Procedure: "/" + pkg + ".Service/Check"}
			newHandler := func(interceptors ...connectv2.ServerInterceptor) http.Handler {
				server := connectv2.NewServer(interceptors...)
				server.Register(connectv2.Method{Spec: spec, Handler: func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
					if err := stream.Receive(dynamicpb.NewMessage(md)); err != nil {
						return err
					}
					calls.Add(1)
					return stream.Send(&emptypb.Empty{})
				}})
				mux := http.NewServeMux()
				connecthttp.Mount(mux, server)
				return mux
			}
			var requests atomic.Int64
			plain := newHandler()
			mux := http.NewServeMux()
			mux.Handle("/guarded/", http.StripPrefix("/guarded", newHandler(validate.NewServerInterceptor(opt))))
			mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				plain.ServeHTTP(w, r)
			}))
			srv := testkit.NewServer(t, mux, testkit.H2C)
			for _, p := range v2Protocols() {
				t.Run("h2c/v2/"+p.name+"/unary/handler", func(t *testing.T) {
					transport := connecthttp.NewTransport(srv.Client, srv.URL+"/guarded", p.opts...)
					err := connectv2.NewClient(transport).CallUnary(testContext(t), spec, msg, &emptypb.Empty{})
					v2Code(t, err, connectv2.CodeInternal)
					assert.True(t, !v2HasDetails(err), "no Violations detail for a broken rule")
					assert.Equal(t, calls.Load(), int64(0), "the handler ran")
				})
				t.Run("h2c/v2/"+p.name+"/unary/client", func(t *testing.T) {
					err := v2Client(srv, p, validate.NewClientInterceptor(opt)).CallUnary(testContext(t), spec, msg, &emptypb.Empty{})
					v2Code(t, err, connectv2.CodeInternal)
					assert.Equal(t, requests.Load(), int64(0), "the call reached the server")
				})
			}
			assert.Equal(t, reasons.Load(), int64(2*len(v2Protocols())), "hook calls with the right reason")
		})
	}
}

// v2JSONCodec is a connect-go v2 codec for plain Go values, to carry
// messages that are not Protobuf messages.
type v2JSONCodec struct{}

func (v2JSONCodec) Name() string { return "json" }

func (v2JSONCodec) MarshalWrite(_ context.Context, dst io.Writer, msg any) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = dst.Write(data)
	return err
}

func (v2JSONCodec) UnmarshalRead(_ context.Context, src io.Reader, msg any) error {
	data, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, msg)
}

// TestV2NotProtobuf checks that on connect-go v2, messages that are not
// Protobuf messages (a custom codec) fail with a clear Internal error on
// servers and clients, for unary and streaming calls, instead of
// panicking.
func TestV2NotProtobuf(t *testing.T) {
	t.Parallel()
	var failures, calls atomic.Int64
	opt := validate.WithFailureHook(func(_ context.Context, f validate.Failure) {
		if f.Reason == validate.ReasonNotProtobuf && f.Code == connect.CodeInternal {
			failures.Add(1)
		}
	})
	unary := connectv2.Spec{StreamType: connectv2.StreamTypeUnary, Procedure: "/plain.v2.Service/Echo"}
	bidi := connectv2.Spec{StreamType: connectv2.StreamTypeBidi, Procedure: "/plain.v2.Service/Chat"}
	echo := func(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
		var msg plainMessage
		if err := stream.Receive(&msg); err != nil {
			return err
		}
		calls.Add(1)
		return stream.Send(&msg)
	}
	newHandler := func(interceptors ...connectv2.ServerInterceptor) http.Handler {
		server := connectv2.NewServer(interceptors...)
		server.Register(connectv2.Method{Spec: unary, Handler: echo}, connectv2.Method{Spec: bidi, Handler: echo})
		mux := http.NewServeMux()
		connecthttp.Mount(mux, server, connecthttp.WithCodecs(v2JSONCodec{}))
		return mux
	}
	mux := http.NewServeMux()
	mux.Handle("/guarded/", http.StripPrefix("/guarded", newHandler(validate.NewServerInterceptor(opt))))
	mux.Handle("/", newHandler())
	srv := testkit.NewServer(t, mux, testkit.H2C)
	for _, p := range v2Protocols() {
		if p.name == "connect+json" {
			continue // the codec is the test's own
		}
		for _, side := range []string{"handler", "client"} {
			t.Run("h2c/v2/"+p.name+"/"+side, func(t *testing.T) {
				ctx := testContext(t)
				opts := append([]connecthttp.Option{connecthttp.WithCodecs(v2JSONCodec{})}, p.opts...)
				url := srv.URL + "/guarded"
				var interceptors []connectv2.ClientInterceptor
				if side == "client" {
					url = srv.URL
					interceptors = append(interceptors, validate.NewClientInterceptor(opt))
				}
				client := connectv2.NewClient(connecthttp.NewTransport(srv.Client, url, opts...), interceptors...)
				before, beforeCalls := failures.Load(), calls.Load()

				err := client.CallUnary(ctx, unary, &plainMessage{Number: 1}, &plainMessage{})
				v2Code(t, err, connectv2.CodeInternal, "unary")
				assert.Contains(t, err.Error(), "not a Protobuf message")

				stream, err := client.CallClientStream(ctx, bidi)
				assert.NoError(t, err)
				_ = stream.Send(&plainMessage{Number: 1})
				_ = stream.CloseSend()
				err = stream.Receive(&plainMessage{})
				_ = stream.Close()
				v2Code(t, err, connectv2.CodeInternal, "bidi")

				assert.Equal(t, failures.Load()-before, int64(2), "hook calls")
				assert.Equal(t, calls.Load(), beforeCalls, "a handler saw the message")
			})
		}
	}
}

// TestV2ClientOpenError checks that when the transport cannot open a
// stream, the client interceptor returns its error untouched.
func TestV2ClientOpenError(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, (&v2Service{}).handler(), testkit.H2C)
	transport := connecthttp.NewTransport(srv.Client, srv.URL, connecthttp.WithSendCodec("no-such-codec"))
	client := connectv2.NewClient(transport, validate.NewClientInterceptor())
	for _, st := range testkit.StreamTypes() {
		err := v2CallValid(testContext(t), client, st)
		v2Code(t, err, connectv2.CodeUnknown, testkit.StreamTypeName(st))
		assert.Contains(t, err.Error(), "no-such-codec")
	}
}
