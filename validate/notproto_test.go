// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// plainMessage is not a Protobuf message; jsonCodec carries it.
type plainMessage struct {
	Number int64 `json:"number"`
}

type jsonCodec struct{}

func (jsonCodec) Name() string                    { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestNotProtobuf checks that messages that are not Protobuf messages (a
// custom codec) fail with a clear Internal error on handlers and clients,
// for unary and streaming calls, instead of panicking.
func TestNotProtobuf(t *testing.T) {
	t.Parallel()
	var failures atomic.Int64
	interceptor := validate.NewInterceptor(validate.WithFailureHook(func(_ context.Context, f validate.Failure) {
		if f.Reason == validate.ReasonNotProtobuf && f.Code == connect.CodeInternal {
			failures.Add(1)
		}
	}))
	const unary, bidi = "/plain.v1.Service/Echo", "/plain.v1.Service/Chat"
	var calls atomic.Int64
	newHandlers := func(opts ...connect.HandlerOption) (*connect.Handler, *connect.Handler) {
		opts = append(opts, connect.WithCodec(jsonCodec{}))
		return connect.NewUnaryHandler(unary, func(_ context.Context, req *connect.Request[plainMessage]) (*connect.Response[plainMessage], error) {
				calls.Add(1)
				return connect.NewResponse(req.Msg), nil
			}, opts...),
			connect.NewBidiStreamHandler(bidi, func(_ context.Context, stream *connect.BidiStream[plainMessage, plainMessage]) error {
				calls.Add(1)
				msg, err := stream.Receive()
				if err != nil {
					return err
				}
				return stream.Send(msg)
			}, opts...)
	}
	guardedUnary, guardedBidi := newHandlers(connect.WithInterceptors(interceptor))
	plainUnary, plainBidi := newHandlers()
	mux := http.NewServeMux()
	mux.Handle("/guarded"+unary, http.StripPrefix("/guarded", guardedUnary))
	mux.Handle("/guarded"+bidi, http.StripPrefix("/guarded", guardedBidi))
	mux.Handle(unary, plainUnary)
	mux.Handle(bidi, plainBidi)
	srv := testkit.NewServer(t, mux, testkit.H2C)
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		for _, side := range []string{"handler", "client"} {
			t.Run("h2c/"+p.String()+"/"+side, func(t *testing.T) {
				ctx := testContext(t)
				opts := []connect.ClientOption{connect.WithCodec(jsonCodec{})}
				prefix := "/guarded"
				if side == "client" {
					opts = append(opts, connect.WithInterceptors(interceptor))
					prefix = ""
				}
				opts = append(p.ClientOptions(), opts...)
				before, beforeCalls := failures.Load(), calls.Load()

				_, err := connect.NewClient[plainMessage, plainMessage](srv.Client, srv.URL+prefix+unary, opts...).
					CallUnary(ctx, connect.NewRequest(&plainMessage{Number: 1}))
				assert.Code(t, err, connect.CodeInternal, "unary")
				assert.Contains(t, err.Error(), "not a Protobuf message")

				stream := connect.NewClient[plainMessage, plainMessage](srv.Client, srv.URL+prefix+bidi, opts...).CallBidiStream(ctx)
				_ = stream.Send(&plainMessage{Number: 1})
				_ = stream.CloseRequest()
				_, err = stream.Receive()
				_ = stream.CloseResponse()
				assert.Code(t, err, connect.CodeInternal, "bidi")

				assert.Equal(t, failures.Load()-before, int64(2), "hook calls")
				if side == "client" {
					assert.Equal(t, calls.Load(), beforeCalls, "a client call reached a handler")
				}
			})
		}
	}
}
