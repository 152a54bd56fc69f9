// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

// Package validate_test compares connectware's validate interceptor with
// connectrpc.com/validate v0.9.0 and with calling protovalidate directly.
//
//	go test -run '^$' -bench . -benchmem ./validate/
//
// Each iteration is what a handler's interceptor chain does for one unary
// call: wrap the decoded message in a request, validate it, and call the
// handler (which returns a prebuilt response) when it is valid. "bare"
// does the same with protovalidate.Validate called inline, so
// connectware minus bare is the interceptor's own cost.
package validate_test

import (
	"context"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	official "connectrpc.com/validate"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

func validPing() *testv1.PingRequest {
	return &testv1.PingRequest{Number: 42, Text: "ping", Tags: []string{"a", "b"}}
}

// invalidPing has three violations: number < 0, text over 256 characters,
// more than 8 tags.
func invalidPing() *testv1.PingRequest {
	return &testv1.PingRequest{
		Number: -1,
		Text:   strings.Repeat("x", 300),
		Tags:   []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"},
	}
}

func benchmarkUnary(b *testing.B, msg *testv1.PingRequest, wantErr bool) {
	response := connect.NewResponse(&testv1.PingResponse{Number: 42})
	handler := connect.UnaryFunc(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return response, nil
	})
	ctx := context.Background()
	check := func(b *testing.B, err error) {
		if (err != nil) != wantErr {
			b.Fatalf("error = %v, want error: %v", err, wantErr)
		}
	}
	run := func(b *testing.B, call connect.UnaryFunc) {
		_, err := call(ctx, connect.NewRequest(msg)) // compile the rules outside the loop
		check(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			_, err = call(ctx, connect.NewRequest(msg))
		}
		check(b, err)
	}
	b.Run("connectware", func(b *testing.B) {
		run(b, validate.NewInterceptor().WrapUnary(handler))
	})
	b.Run("official", func(b *testing.B) {
		run(b, official.NewInterceptor().WrapUnary(handler))
	})
	b.Run("bare", func(b *testing.B) {
		run(b, func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if err := protovalidate.Validate(req.Any().(*testv1.PingRequest)); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		})
	})
}

// BenchmarkUnaryValid measures a valid request.
func BenchmarkUnaryValid(b *testing.B) { benchmarkUnary(b, validPing(), false) }

// BenchmarkUnaryInvalid measures a request with three violations, which
// both interceptors turn into an InvalidArgument error with a
// buf.validate.Violations detail.
func BenchmarkUnaryInvalid(b *testing.B) { benchmarkUnary(b, invalidPing(), true) }

// handlerConn is a stream handler's connection that hands out a valid
// PingRequest on every Receive, so the benchmark measures validation only.
type handlerConn struct {
	connect.StreamingHandlerConn // nil: only the methods below are called
}

func (handlerConn) Spec() connect.Spec {
	return connect.Spec{Procedure: "/connectware.test.v1.TestService/CumSum", StreamType: connect.StreamTypeBidi}
}

func (handlerConn) Receive(msg any) error {
	m := msg.(*testv1.PingRequest)
	m.Number, m.Text = 42, "ping"
	return nil
}

// BenchmarkStreamReceive measures one valid message received by a bidi
// handler (the stream is opened once, outside the loop).
func BenchmarkStreamReceive(b *testing.B) {
	run := func(b *testing.B, wrap func(connect.StreamingHandlerFunc) connect.StreamingHandlerFunc) {
		b.ReportAllocs()
		handler := wrap(func(_ context.Context, conn connect.StreamingHandlerConn) error {
			msg := &testv1.PingRequest{}
			if err := conn.Receive(msg); err != nil { // compile the rules
				return err
			}
			b.ResetTimer()
			for b.Loop() {
				if err := conn.Receive(msg); err != nil {
					return err
				}
			}
			return nil
		})
		if err := handler(context.Background(), handlerConn{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("connectware", func(b *testing.B) { run(b, validate.NewInterceptor().WrapStreamingHandler) })
	b.Run("official", func(b *testing.B) { run(b, official.NewInterceptor().WrapStreamingHandler) })
	b.Run("bare", func(b *testing.B) {
		run(b, func(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
			return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
				return next(ctx, bareConn{conn})
			}
		})
	})
}

// bareConn validates with protovalidate.Validate directly.
type bareConn struct{ connect.StreamingHandlerConn }

func (c bareConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return protovalidate.Validate(msg.(*testv1.PingRequest))
}

// clientConn is a client's stream connection that sends nowhere.
type clientConn struct {
	connect.StreamingClientConn // nil: only the methods below are called
}

func (clientConn) Spec() connect.Spec {
	return connect.Spec{Procedure: "/connectware.test.v1.TestService/Sum", StreamType: connect.StreamTypeClient, IsClient: true}
}
func (clientConn) Send(any) error       { return nil }
func (clientConn) CloseRequest() error  { return nil }
func (clientConn) Receive(any) error    { return nil }
func (clientConn) CloseResponse() error { return nil }

// BenchmarkClientStream measures a whole client-streaming call on the
// client side: open the stream, send one valid message, close it.
func BenchmarkClientStream(b *testing.B) {
	spec := clientConn{}.Spec()
	newConn := connect.StreamingClientFunc(func(context.Context, connect.Spec) connect.StreamingClientConn { return clientConn{} })
	msg := &testv1.SumRequest{Number: 1}
	run := func(b *testing.B, open connect.StreamingClientFunc) {
		ctx, cancel := context.WithCancel(context.Background()) // a caller's context is usually cancelable
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			conn := open(ctx, spec)
			if err := conn.Send(msg); err != nil {
				b.Fatal(err)
			}
			_ = conn.CloseRequest()
			_ = conn.Receive(&testv1.SumResponse{})
			_ = conn.CloseResponse()
		}
	}
	b.Run("connectware", func(b *testing.B) { run(b, validate.NewInterceptor().WrapStreamingClient(newConn)) })
	b.Run("official", func(b *testing.B) { run(b, official.NewInterceptor().WrapStreamingClient(newConn)) })
}
