package otelconnect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/internal/testkit/testkitv2"
	"github.com/connectware/connectware/otelconnect"
)

// The connect-go v2 side of the tests, on internal/testkit/testkitv2.
// v2PingServer answers exactly as testkit.PingServer does, so that the same
// call made through connect-go v1 and v2 can be compared.

// v2PingServer is the TestService on connect-go v2, answering as
// testkit.PingServer does (Ping echoes, Fail fails with the code asked,
// Sum sums, CountUp counts, CumSum sums as it goes, and every method
// echoes testkit.HeaderEcho into its response header and trailer).
type v2PingServer struct {
	// onCall, when non-nil, is called first with each call's context and
	// procedure; a non-nil error fails the call.
	onCall func(ctx context.Context, procedure string) error
	// ping, when non-nil, replaces the Ping method.
	ping connectv2.ServerFunc
}

// handler serves the service on a connect-go v2 Server with interceptors,
// mounted with connecthttp.Mount.
func (s *v2PingServer) handler(interceptors ...connectv2.ServerInterceptor) http.Handler {
	server := connectv2.NewServer(interceptors...)
	ping := s.pingMethod
	if s.ping != nil {
		ping = s.ping
	}
	server.Register(
		connectv2.Method{Spec: testkitv2.Spec(testv1connect.TestServicePingProcedure), Handler: ping},
		connectv2.Method{Spec: testkitv2.Spec(testv1connect.TestServiceFailProcedure), Handler: s.fail},
		connectv2.Method{Spec: testkitv2.Spec(testv1connect.TestServiceSumProcedure), Handler: s.sum},
		connectv2.Method{Spec: testkitv2.Spec(testv1connect.TestServiceCountUpProcedure), Handler: s.countUp},
		connectv2.Method{Spec: testkitv2.Spec(testv1connect.TestServiceCumSumProcedure), Handler: s.cumSum},
	)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	return mux
}

func (s *v2PingServer) enter(ctx context.Context, spec connectv2.Spec) error {
	if s.onCall == nil {
		return nil
	}
	return s.onCall(ctx, spec.Procedure)
}

// v2Echo copies the echo header into the response header and trailer.
func v2Echo(ctx context.Context) {
	info, ok := connectv2.CallInfoForServerContext(ctx)
	if !ok {
		return
	}
	for _, v := range info.RequestHeader().Values(testkit.HeaderEcho) {
		info.ResponseHeader().Add(testkit.HeaderEcho, v)
		info.ResponseTrailer().Add(testkit.HeaderEcho+"-Trailer", v)
	}
}

func (s *v2PingServer) pingMethod(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
	if err := s.enter(ctx, spec); err != nil {
		return err
	}
	var req testv1.PingRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	v2Echo(ctx)
	return stream.Send(&testv1.PingResponse{Number: req.GetNumber(), Text: req.GetText(), Tags: req.GetTags()})
}

func (s *v2PingServer) fail(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
	if err := s.enter(ctx, spec); err != nil {
		return err
	}
	var req testv1.FailRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	code := connectv2.Code(req.GetCode())
	if code < connectv2.CodeCanceled || code > connectv2.CodeUnauthenticated {
		code = connectv2.CodeUnknown
	}
	return connectv2.NewError(code, req.GetMessage())
}

func (s *v2PingServer) sum(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
	if err := s.enter(ctx, spec); err != nil {
		return err
	}
	var sum int64
	for {
		var req testv1.SumRequest
		if err := stream.Receive(&req); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		sum += req.GetNumber()
	}
	v2Echo(ctx)
	return stream.Send(&testv1.SumResponse{Sum: sum})
}

func (s *v2PingServer) countUp(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
	if err := s.enter(ctx, spec); err != nil {
		return err
	}
	var req testv1.CountUpRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	v2Echo(ctx)
	for i := int64(1); i <= req.GetNumber(); i++ {
		if err := stream.Send(&testv1.CountUpResponse{Number: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *v2PingServer) cumSum(ctx context.Context, spec connectv2.Spec, stream connectv2.ServerStream) error {
	if err := s.enter(ctx, spec); err != nil {
		return err
	}
	v2Echo(ctx)
	var sum int64
	for {
		var req testv1.CumSumRequest
		if err := stream.Receive(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		sum += req.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: sum}); err != nil {
			return err
		}
	}
}

// v2Call makes with a connect-go v2 client the call testkit.Call makes with
// a v1 one: Ping(42, "ping"), Sum(1, 2, 3) = 6, CountUp(3) = 1, 2, 3,
// CumSum(1, 2, 3) = 1, 3, 6, sending header. It returns the call's error
// (a *connectv2.Error for RPC failures) or an error describing a wrong
// answer, and the call's CallInfo.
func v2Call(ctx context.Context, client *connectv2.Client, st connect.StreamType, header http.Header) (*connectv2.CallInfo, error) {
	ctx, info := connectv2.NewClientContext(ctx)
	for k, vs := range header {
		for _, v := range vs {
			info.RequestHeader().Add(k, v)
		}
	}
	spec := testkitv2.SpecOf(st)
	switch st {
	case connect.StreamTypeUnary:
		var res testv1.PingResponse
		if err := client.CallUnary(ctx, spec, &testv1.PingRequest{Number: 42, Text: "ping"}, &res); err != nil {
			return info, err
		}
		if res.GetNumber() != 42 || res.GetText() != "ping" {
			return info, fmt.Errorf("ping: got %v", &res)
		}
		return info, nil
	case connect.StreamTypeClient:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return info, err
		}
		defer func() { _ = stream.Close() }()
		for _, n := range []int64{1, 2, 3} {
			if err := stream.Send(&testv1.SumRequest{Number: n}); err != nil {
				break // the real error comes from Receive
			}
		}
		_ = stream.CloseSend()
		var res testv1.SumResponse
		if err := stream.Receive(&res); err != nil {
			return info, err
		}
		if res.GetSum() != 6 {
			return info, fmt.Errorf("sum: got %d, want 6", res.GetSum())
		}
		return info, nil
	case connect.StreamTypeServer:
		stream, err := client.CallServerStream(ctx, spec, &testv1.CountUpRequest{Number: 3})
		if err != nil {
			return info, err
		}
		defer func() { _ = stream.Close() }()
		var got []int64
		for {
			var res testv1.CountUpResponse
			if err := stream.Receive(&res); err != nil {
				if !errors.Is(err, io.EOF) {
					return info, err
				}
				break
			}
			got = append(got, res.GetNumber())
		}
		if !slices.Equal(got, []int64{1, 2, 3}) {
			return info, fmt.Errorf("count up: got %v", got)
		}
		return info, nil
	case connect.StreamTypeBidi:
		stream, err := client.CallClientStream(ctx, spec)
		if err != nil {
			return info, err
		}
		defer func() { _ = stream.Close() }()
		var got []int64
		for _, n := range []int64{1, 2, 3} {
			if err := stream.Send(&testv1.CumSumRequest{Number: n}); err != nil {
				break // the real error comes from Receive
			}
			var res testv1.CumSumResponse
			if err := stream.Receive(&res); err != nil {
				break
			}
			got = append(got, res.GetSum())
		}
		_ = stream.CloseSend()
		for {
			var res testv1.CumSumResponse
			if err = stream.Receive(&res); err != nil {
				break
			}
		}
		if !errors.Is(err, io.EOF) {
			return info, err
		}
		if !slices.Equal(got, []int64{1, 3, 6}) {
			return info, fmt.Errorf("cum sum: got %v", got)
		}
		return info, nil
	}
	return info, fmt.Errorf("unknown stream type %v", st)
}

// v2Interceptors returns connect-go v2 server and client interceptors
// recording to tel, with opts.
func (tel *telemetry) v2Interceptors(t testing.TB, opts ...otelconnect.Option) (connectv2.ServerInterceptor, connectv2.ClientInterceptor) {
	t.Helper()
	all := append([]otelconnect.Option{
		otelconnect.WithTracerProvider(tel.tp),
		otelconnect.WithMeterProvider(tel.mp),
		otelconnect.WithPropagator(propagator),
	}, opts...)
	server, err := otelconnect.NewServerInterceptor(all...)
	if err != nil {
		t.Fatalf("NewServerInterceptor: %v", err)
	}
	client, err := otelconnect.NewClientInterceptor(all...)
	if err != nil {
		t.Fatalf("NewClientInterceptor: %v", err)
	}
	return server, client
}

// v2Networks are the networks the v2 tests run on: HTTP/1.1 and h2c.
func v2Networks() []testkit.Network { return []testkit.Network{testkit.HTTP1, testkit.H2C} }
