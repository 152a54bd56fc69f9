// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"go.uber.org/goleak"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// invalidPing breaks all three PingRequest rules: number < 0, text longer
// than 256 characters, more than 8 tags.
func invalidPing() *testv1.PingRequest {
	return &testv1.PingRequest{
		Number: -1,
		Text:   strings.Repeat("x", 300),
		Tags:   []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"},
	}
}

// pingRuleIDs are the rule ids invalidPing violates, sorted.
var pingRuleIDs = []string{"int64.gte_lte", "repeated.max_items", "string.max_len"}

// ruleIDs decodes the buf.validate.Violations detail of a connect error and
// returns the violated rule ids, sorted. It fails the test when the error
// has no such detail.
func ruleIDs(tb testing.TB, err error) []string {
	tb.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		tb.Fatalf("not a connect error: %v", err)
	}
	for _, d := range cerr.Details() {
		if d.Type() != "buf.validate.Violations" {
			continue
		}
		msg, derr := d.Value()
		if derr != nil {
			tb.Fatalf("decode detail: %v", derr)
		}
		return violationIDs(msg.(*validatepb.Violations))
	}
	tb.Fatalf("no buf.validate.Violations detail in %v (details: %d)", err, len(cerr.Details()))
	return nil
}

func violationIDs(v *validatepb.Violations) []string {
	var ids []string
	for _, violation := range v.GetViolations() {
		ids = append(ids, violation.GetRuleId())
	}
	slices.Sort(ids)
	return ids
}

func hasDetails(err error) bool {
	var cerr *connect.Error
	return errors.As(err, &cerr) && len(cerr.Details()) > 0
}

// callInvalid makes one call of kind st in which one request is invalid
// (number -1; for Ping, invalidPing). With late set, streams first send a
// valid message, so the invalid one arrives mid-stream. It returns the
// call's final error.
func callInvalid(ctx context.Context, client testv1connect.TestServiceClient, st connect.StreamType, late bool) error {
	switch st {
	case connect.StreamTypeUnary:
		_, err := client.Ping(ctx, connect.NewRequest(invalidPing()))
		return err
	case connect.StreamTypeClient:
		stream := client.Sum(ctx)
		if late {
			_ = stream.Send(&testv1.SumRequest{Number: 1})
		}
		_ = stream.Send(&testv1.SumRequest{Number: -1})
		_ = stream.Send(&testv1.SumRequest{Number: 2})
		_, err := stream.CloseAndReceive()
		return err
	case connect.StreamTypeServer:
		stream, err := client.CountUp(ctx, connect.NewRequest(&testv1.CountUpRequest{Number: -1}))
		if err != nil {
			return err
		}
		for stream.Receive() {
		}
		err = stream.Err()
		_ = stream.Close()
		return err
	case connect.StreamTypeBidi:
		stream := client.CumSum(ctx)
		defer func() { _ = stream.CloseResponse() }()
		if late {
			if err := stream.Send(&testv1.CumSumRequest{Number: 1}); err == nil {
				_, _ = stream.Receive()
			}
		}
		_ = stream.Send(&testv1.CumSumRequest{Number: -1})
		_ = stream.CloseRequest()
		for {
			if _, err := stream.Receive(); err != nil {
				return err
			}
		}
	}
	return errors.New("unknown stream type")
}

// recorder is a TestService that records every request number its
// handlers see, and every HTTP request that reaches it.
type recorder struct {
	testkit.PingServer

	requests atomic.Int64
	// strays counts requests marked by markInvalid: calls whose first
	// message is invalid, which a client interceptor must never send.
	strays  atomic.Int64
	mu      sync.Mutex
	numbers []int64
	// sumEnded, when set, receives how each Sum call's request stream
	// ended: nil for a clean end, else the receive error.
	sumEnded chan error
	// sumSaw, when set, receives each number a Sum handler receives.
	sumSaw chan int64
}

func (r *recorder) handler(opts ...connect.HandlerOption) http.Handler {
	mux := testkit.NewMux(r, opts...)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if req.Header.Get(invalidHeader) != "" {
			r.strays.Add(1)
		}
		mux.ServeHTTP(w, req)
	})
}

// noStrays fails the test if a marked request reached the server. connect-go
// starts HTTP requests on a goroutine of its own, so a request wrongly
// started by a client can arrive after the call has returned: noStrays
// watches for a grace period before it concludes that none will.
func (r *recorder) noStrays(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := r.strays.Load(); n != 0 {
			tb.Fatalf("%d requests whose first message was invalid reached the server", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// invalidHeader marks the requests of calls whose first message is invalid.
const invalidHeader = "X-Test-Invalid"

// markInvalid is a client interceptor that sets invalidHeader on every
// call, so that a server can tell if such a call reaches it.
type markInvalid struct{}

func (markInvalid) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set(invalidHeader, "1")
		return next(ctx, req)
	}
}

func (markInvalid) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set(invalidHeader, "1")
		return conn
	}
}

func (markInvalid) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (r *recorder) saw(n int64) {
	r.mu.Lock()
	r.numbers = append(r.numbers, n)
	r.mu.Unlock()
}

// negatives returns how many invalid (negative) numbers handlers saw.
func (r *recorder) negatives() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	count := 0
	for _, n := range r.numbers {
		if n < 0 {
			count++
		}
	}
	return count
}

func (r *recorder) Ping(ctx context.Context, req *connect.Request[testv1.PingRequest]) (*connect.Response[testv1.PingResponse], error) {
	r.saw(req.Msg.GetNumber())
	return r.PingServer.Ping(ctx, req)
}

func (r *recorder) Sum(_ context.Context, stream *connect.ClientStream[testv1.SumRequest]) (*connect.Response[testv1.SumResponse], error) {
	var sum int64
	for stream.Receive() {
		r.saw(stream.Msg().GetNumber())
		if r.sumSaw != nil {
			select { // never block the handler, even when a test went wrong
			case r.sumSaw <- stream.Msg().GetNumber():
			default:
			}
		}
		sum += stream.Msg().GetNumber()
	}
	if r.sumEnded != nil {
		select {
		case r.sumEnded <- stream.Err():
		default:
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&testv1.SumResponse{Sum: sum}), nil
}

func (r *recorder) CountUp(ctx context.Context, req *connect.Request[testv1.CountUpRequest], stream *connect.ServerStream[testv1.CountUpResponse]) error {
	r.saw(req.Msg.GetNumber())
	return r.PingServer.CountUp(ctx, req, stream)
}

func (r *recorder) CumSum(_ context.Context, stream *connect.BidiStream[testv1.CumSumRequest, testv1.CumSumResponse]) error {
	var sum int64
	for {
		msg, err := stream.Receive()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r.saw(msg.GetNumber())
		sum += msg.GetNumber()
		if err := stream.Send(&testv1.CumSumResponse{Sum: sum}); err != nil {
			return err
		}
	}
}

// violationsOf is protovalidate's verdict on msg, for comparisons.
func violationsOf(tb testing.TB, err error) *protovalidate.ValidationError {
	tb.Helper()
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		tb.Fatalf("not a validation error: %v", err)
	}
	return verr
}

// The test header modeMux dispatches on, and its values.
const (
	modeHeader = "X-Test-Mode"
	modeStrict = "strict" // handler with the strict interceptor
	modeLax    = "lax"    // handler with the lax interceptor
	modePlain  = "plain"  // handler without interceptor
)

func headerFor(mode string) http.Header { return http.Header{modeHeader: []string{mode}} }

// modeMux serves PingServer with the strict interceptor, the lax one or
// none, as the request's mode header says.
func modeMux(strict, lax connect.Interceptor) http.Handler {
	muxes := map[string]http.Handler{
		modeStrict: testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(strict)),
		modeLax:    testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(lax)),
		modePlain:  testkit.NewMux(&testkit.PingServer{}),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := muxes[r.Header.Get(modeHeader)]
		if !ok {
			http.Error(w, "no mode", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
