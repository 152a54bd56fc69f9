package otelconnect_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/otelconnect"
)

const capturedHeader = "X-Request-Id"

// badInputServer serves TestService with W3C trace-context and baggage
// propagation and a captured request header, and returns a client for it
// with its recorded telemetry.
func badInputServer(tb testing.TB) (*telemetry, *testkit.Server) {
	tel := newTelemetry(tb)
	interceptor := tel.interceptor(tb,
		otelconnect.WithTraceRequestHeader(capturedHeader),
		otelconnect.WithTraceResponseHeader(capturedHeader),
		otelconnect.WithPropagateResponseHeader(),
	)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	return tel, testkit.NewServer(tb, mux, testkit.HTTP1)
}

// callWith makes a Connect unary call carrying the given headers, which
// must never fail it.
func callWith(tb testing.TB, srv *testkit.Server, header http.Header) {
	tb.Helper()
	_, _, err := testkit.Call(context.Background(), testkit.NewClient(srv, testkit.ConnectProto), connect.StreamTypeUnary, header)
	if err != nil {
		tb.Fatalf("call with headers %q failed: %v", header, err)
	}
}

// FuzzPropagation serves Connect unary requests carrying arbitrary
// traceparent, tracestate, baggage and captured header values to an
// instrumented handler, in process (no network, so each run is fast): the
// call must succeed and record its span.
func FuzzPropagation(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7", "userId=alice", "req-1")
	f.Add("00-00000000000000000000000000000000-0000000000000000-01", "", "", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=b,,c=d,=,x", "k=v;prop=1,bad", "\xff\xfe")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", strings.Repeat("k=v,", 64), strings.Repeat("a=", 512), strings.Repeat("x", 4096))
	f.Add("garbage", "\x00", "%zz=%", "\r\n")
	tel := newTelemetry(f)
	interceptor := tel.interceptor(f,
		otelconnect.WithTraceRequestHeader(capturedHeader),
		otelconnect.WithTraceResponseHeader(capturedHeader),
		otelconnect.WithPropagateResponseHeader(),
	)
	mux := testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(interceptor))
	body, err := proto.Marshal(&testv1.PingRequest{Number: 42, Text: "ping"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, traceparent, tracestate, baggage, captured string) {
		req := httptest.NewRequest(http.MethodPost, testv1connect.TestServicePingProcedure, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/proto")
		req.Header["Traceparent"] = []string{traceparent}
		req.Header["Tracestate"] = []string{tracestate}
		req.Header["Baggage"] = []string{baggage, baggage}
		req.Header[capturedHeader] = []string{captured}
		tel.spans.Reset()
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		if n := len(tel.spans.Ended()); n != 1 {
			t.Fatalf("%d spans, want 1", n)
		}
	})
}

// TestOversizedHeaders sends huge and malformed trace-context, baggage and
// captured headers: the call succeeds, and a captured value is cut to a
// bounded length.
func TestOversizedHeaders(t *testing.T) {
	t.Parallel()
	tel, srv := badInputServer(t)
	huge := strings.Repeat("a", 64<<10)
	header := http.Header{
		"Traceparent":  []string{"00-" + huge},
		"Tracestate":   []string{strings.Repeat("k=v,", 16<<10)},
		"Baggage":      []string{strings.Repeat("key=value,", 8<<10)},
		capturedHeader: make([]string, 100),
	}
	for i := range header[capturedHeader] {
		header[capturedHeader][i] = "\xff" + strings.Repeat("x", 2048)
	}
	callWith(t, srv, header)
	spans := tel.ended()
	assert.Equal(t, len(spans), 1)
	assert.True(t, !spans[0].Parent().IsValid(), "no parent from a malformed traceparent")
	for _, kv := range spans[0].Attributes() {
		if kv.Key == "rpc.request.metadata.x-request-id" {
			values := kv.Value.AsStringSlice()
			assert.Equal(t, len(values), 16, "values capped")
			for _, v := range values {
				assert.True(t, len(v) <= 1024+len("\uFFFD"), "value cut")
				assert.True(t, strings.HasPrefix(v, "\uFFFD"), "invalid UTF-8 replaced")
			}
			return
		}
	}
	t.Fatal("captured header missing")
}
