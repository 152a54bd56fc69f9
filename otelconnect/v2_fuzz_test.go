package otelconnect_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/otelconnect"
)

// FuzzPropagationV2 is FuzzPropagation for NewServerInterceptor on a
// connect-go v2 server: Connect unary requests carrying arbitrary
// traceparent, tracestate, baggage and captured header values, served in
// process, must succeed and record one span whose captured values are
// bounded.
func FuzzPropagationV2(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7", "userId=alice", "req-1")
	f.Add("00-00000000000000000000000000000000-0000000000000000-01", "", "", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=b,,c=d,=,x", "k=v;prop=1,bad", "\xff\xfe")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", strings.Repeat("k=v,", 64), strings.Repeat("a=", 512), strings.Repeat("x", 4096))
	f.Add("garbage", "\x00", "%zz=%", "\r\n")
	tel := newTelemetry(f)
	server, _ := tel.v2Interceptors(f,
		otelconnect.WithTraceRequestHeader(capturedHeader),
		otelconnect.WithTraceResponseHeader(capturedHeader),
		otelconnect.WithPropagateResponseHeader(),
	)
	h := (&v2PingServer{}).handler(server)
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
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		spans := tel.spans.Ended()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want 1", len(spans))
		}
		for _, kv := range spans[0].Attributes() {
			if strings.HasPrefix(string(kv.Key), "rpc.request.metadata.") {
				for _, v := range kv.Value.AsStringSlice() {
					if len(v) > 1024+len("\uFFFD") {
						t.Fatalf("captured value of %d bytes", len(v))
					}
				}
			}
		}
	})
}
