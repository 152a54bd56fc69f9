// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
)

// The connect-go v2 side of the tests. There is no connect-go v2 generated
// code for the test service: servers and clients use connect-go v2's
// untyped API (Server.Register with a Spec per method, Client.CallUnary and
// friends) with the generated Protobuf messages, which is what
// protoc-gen-connect-go v2's output does underneath.

// v2Protocol is a connect-go v2 client configuration.
type v2Protocol struct {
	name string
	opts []connecthttp.Option
	grpc bool // needs HTTP/2
}

func v2Protocols() []v2Protocol {
	return []v2Protocol{
		{name: "connect+proto", opts: testkitv2.Options(testkit.ConnectProto)},
		{name: "connect+json", opts: testkitv2.Options(testkit.ConnectJSON)},
		{name: "grpc", opts: testkitv2.Options(testkit.GRPC), grpc: true},
		{name: "grpcweb", opts: testkitv2.Options(testkit.GRPCWeb)},
	}
}

// v2Case is one cell of the connect-go v2 matrix.
type v2Case struct {
	network  testkit.Network
	protocol v2Protocol
	server   *testkit.Server
}

// client returns a connect-go v2 client for the case's server.
func (c v2Case) client(interceptors ...connectv2.ClientInterceptor) *connectv2.Client {
	return v2Client(c.server, c.protocol, interceptors...)
}

func v2Client(srv *testkit.Server, p v2Protocol, interceptors ...connectv2.ClientInterceptor) *connectv2.Client {
	return connectv2.NewClient(connecthttp.NewTransport(srv.Client, srv.URL, p.opts...), interceptors...)
}

// v2Matrix starts h on loopback over HTTP/1.1, h2c and TLS and runs fn for
// every connect-go v2 protocol each network supports (gRPC needs HTTP/2).
func v2Matrix(t *testing.T, h http.Handler, fn func(t *testing.T, c v2Case)) {
	t.Helper()
	for _, n := range testkit.Networks() {
		srv := testkit.NewServer(t, h, n)
		for _, p := range v2Protocols() {
			if p.grpc && !n.HTTP2() {
				continue
			}
			c := v2Case{network: n, protocol: p, server: srv}
			t.Run(n.String()+"/v2/"+p.name, func(t *testing.T) { fn(t, c) })
		}
	}
}

// v2Service is a connect-go v2 TestService that records every request
// number its handlers see, and every HTTP request that reaches it.
type v2Service struct {
	requests atomic.Int64
	strays   atomic.Int64 // requests marked by v2MarkInvalid
	mu       sync.Mutex
	numbers  []int64
	// sumStarted, when set, is signaled when a Sum handler starts; sumSaw
	// receives each number a Sum handler receives; sumEnded how each Sum
	// call's request stream ended (nil for a clean end).
	sumStarted chan struct{}
	sumSaw     chan int64
	sumEnded   chan error
}

// handler serves the service on a connect-go v2 Server with interceptors,
// mounted with connecthttp.Mount.
func (s *v2Service) handler(interceptors ...connectv2.ServerInterceptor) http.Handler {
	server := connectv2.NewServer(interceptors...)
	server.Register(
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeUnary), Handler: s.ping},
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeClient), Handler: s.sum},
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeServer), Handler: s.countUp},
		connectv2.Method{Spec: testkitv2.SpecOf(connect.StreamTypeBidi), Handler: s.cumSum},
	)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get(invalidHeader) != "" {
			s.strays.Add(1)
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *v2Service) saw(n int64) {
	s.mu.Lock()
	s.numbers = append(s.numbers, n)
	s.mu.Unlock()
}

// negatives returns how many invalid (negative) numbers handlers saw.
func (s *v2Service) negatives() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	count := 0
	for _, n := range s.numbers {
		if n < 0 {
			count++
		}
	}
	return count
}

// noStrays fails the test if a marked request reached the server, watching
// for a grace period in case one was started in the background.
func (s *v2Service) noStrays(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := s.strays.Load(); n != 0 {
			tb.Fatalf("%d requests whose first message was invalid reached the server", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *v2Service) ping(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	var req testv1.PingRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	s.saw(req.GetNumber())
	return stream.Send(&testv1.PingResponse{Number: req.GetNumber(), Text: req.GetText(), Tags: req.GetTags()})
}

func (s *v2Service) sum(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	if s.sumStarted != nil {
		select { // never block the handler, even when a test went wrong
		case s.sumStarted <- struct{}{}:
		default:
		}
	}
	var total int64
	for {
		var req testv1.SumRequest
		err := stream.Receive(&req)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if s.sumEnded != nil {
				select {
				case s.sumEnded <- err:
				default:
				}
			}
			if err != nil {
				return err
			}
			break
		}
		s.saw(req.GetNumber())
		if s.sumSaw != nil {
			select {
			case s.sumSaw <- req.GetNumber():
			default:
			}
		}
		total += req.GetNumber()
	}
	return stream.Send(&testv1.SumResponse{Sum: total})
}

func (s *v2Service) countUp(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	var req testv1.CountUpRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	s.saw(req.GetNumber())
	for i := int64(1); i <= req.GetNumber(); i++ {
		if err := stream.Send(&testv1.CountUpResponse{Number: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *v2Service) cumSum(_ context.Context, _ connectv2.Spec, stream connectv2.ServerStream) error {
	var total int64
	for {
		var req testv1.CumSumRequest
		if err := stream.Receive(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.saw(req.GetNumber())
		total += req.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: total}); err != nil {
			return err
		}
	}
}

// v2CallValid makes one valid call of kind st and checks the answers: Ping
// 7 answers 7; Sum of 1 and 2 is 3; CountUp 3 sends 1, 2, 3; CumSum answers
// 1 then 2 with 1 and 3.
func v2CallValid(ctx context.Context, client *connectv2.Client, st connect.StreamType) error {
	spec := testkitv2.SpecOf(st)
	switch st {
	case connect.StreamTypeUnary:
		var res testv1.PingResponse
		if err := client.CallUnary(ctx, spec, &testv1.PingRequest{Number: 7}, &res); err != nil {
			return err
		}
		return want(res.GetNumber(), 7)
	case connect.StreamTypeClient:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		for _, n := range []int64{1, 2} {
			if err := stream.Send(&testv1.SumRequest{Number: n}); err != nil {
				return err
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		var res testv1.SumResponse
		if err := stream.Receive(&res); err != nil {
			return err
		}
		return want(res.GetSum(), 3)
	case connect.StreamTypeServer:
		stream, err := client.CallServerStream(ctx, spec, &testv1.CountUpRequest{Number: 3})
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		for i := int64(1); ; i++ {
			var res testv1.CountUpResponse
			if err := stream.Receive(&res); err != nil {
				if errors.Is(err, io.EOF) {
					return want(i, 4)
				}
				return err
			}
			if err := want(res.GetNumber(), i); err != nil {
				return err
			}
		}
	case connect.StreamTypeBidi:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		for _, step := range [][2]int64{{1, 1}, {2, 3}} {
			if err := stream.Send(&testv1.CumSumRequest{Number: step[0]}); err != nil {
				return err
			}
			var res testv1.CumSumResponse
			if err := stream.Receive(&res); err != nil {
				return err
			}
			if err := want(res.GetSum(), step[1]); err != nil {
				return err
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		var res testv1.CumSumResponse
		if err := stream.Receive(&res); !errors.Is(err, io.EOF) {
			return fmt.Errorf("bidi stream did not end: %w", err)
		}
		return nil
	}
	return errors.New("unknown stream type")
}

func want(got, want int64) error {
	if got != want {
		return fmt.Errorf("got %d, want %d", got, want)
	}
	return nil
}

// v2CallInvalid makes one call of kind st in which one request is invalid
// (number -1; for Ping, invalidPing). With late set, streams first send a
// valid message, so the invalid one arrives mid-stream. It returns the
// call's final error.
func v2CallInvalid(ctx context.Context, client *connectv2.Client, st connect.StreamType, late bool) error {
	spec := testkitv2.SpecOf(st)
	switch st {
	case connect.StreamTypeUnary:
		return client.CallUnary(ctx, spec, invalidPing(), &testv1.PingResponse{})
	case connect.StreamTypeClient:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		if late {
			_ = stream.Send(&testv1.SumRequest{Number: 1})
		}
		_ = stream.Send(&testv1.SumRequest{Number: -1})
		_ = stream.Send(&testv1.SumRequest{Number: 2})
		_ = stream.CloseSend()
		return stream.Receive(&testv1.SumResponse{})
	case connect.StreamTypeServer:
		stream, err := client.CallServerStream(ctx, spec, &testv1.CountUpRequest{Number: -1})
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		for {
			if err := stream.Receive(&testv1.CountUpResponse{}); err != nil {
				return err
			}
		}
	case connect.StreamTypeBidi:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return err
		}
		defer func() { _ = stream.Close() }()
		if late {
			if err := stream.Send(&testv1.CumSumRequest{Number: 1}); err == nil {
				_ = stream.Receive(&testv1.CumSumResponse{})
			}
		}
		_ = stream.Send(&testv1.CumSumRequest{Number: -1})
		_ = stream.CloseSend()
		for {
			if err := stream.Receive(&testv1.CumSumResponse{}); err != nil {
				return err
			}
		}
	}
	return errors.New("unknown stream type")
}

// v2Code checks that err is a connect-go v2 error with code.
func v2Code(tb testing.TB, err error, code connectv2.Code, msg ...any) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %v %s", code, fmt.Sprint(msg...))
	}
	assert.Equal(tb, connectv2.CodeOf(err), code, append([]any{err}, msg...)...)
}

// v2RuleIDs decodes the buf.validate.Violations detail of a connect-go v2
// error, as a connect-go v2 user would, and returns the violated rule ids,
// sorted. It fails the test when there is no such detail.
func v2RuleIDs(tb testing.TB, err error) []string {
	tb.Helper()
	var cerr *connectv2.Error
	if !errors.As(err, &cerr) {
		tb.Fatalf("not a connect-go v2 error: %v", err)
	}
	for _, d := range cerr.Details() {
		if d.Type != "buf.validate.Violations" {
			continue
		}
		msg, derr := connectproto.UnmarshalErrorDetail(d)
		if derr != nil {
			tb.Fatalf("decode detail: %v", derr)
		}
		return violationIDs(msg.(*validatepb.Violations))
	}
	tb.Fatalf("no buf.validate.Violations detail in %v (details: %d)", err, len(cerr.Details()))
	return nil
}

func v2HasDetails(err error) bool {
	var cerr *connectv2.Error
	return errors.As(err, &cerr) && len(cerr.Details()) > 0
}

// v2MarkInvalid is a connect-go v2 client interceptor that sets
// invalidHeader on every call, so that a server can tell if such a call
// reaches it.
func v2MarkInvalid(next connectv2.ClientFunc) connectv2.ClientFunc {
	return func(ctx context.Context, spec connectv2.Spec) (connectv2.ClientStream, error) {
		if info, ok := connectv2.CallInfoForClientContext(ctx); ok {
			info.RequestHeader().Set(invalidHeader, "1")
		}
		return next(ctx, spec)
	}
}
