package grpchealth_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/grpchealth"
)

// FuzzCheckRequest feeds arbitrary request bodies to Check in the Connect
// JSON, Connect binary and gRPC-Web encodings, in process. The handler must
// answer a clear status (never panic): 200 for a known service, 404 for an
// unknown one, 400 for undecodable input on Connect; gRPC-Web answers in
// its trailers. The hand-written binary decoder must agree with
// proto.Unmarshal of grpc-go's HealthCheckRequest on what is valid and on
// the service named.
func FuzzCheckRequest(f *testing.F) {
	f.Add([]byte(`{"service":"connectware.test.v1.TestService"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"service":null}`))
	f.Add([]byte(`{"service":"\u0000"}`))
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x1f, 'c', 'o', 'n', 'n', 'e', 'c', 't', 'w', 'a', 'r', 'e', '.', 't', 'e', 's', 't', '.', 'v', '1', '.', 'T', 'e', 's', 't', 'S', 'e', 'r', 'v', 'i', 'c', 'e'})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x12, 0x01, 0xff})
	f.Add([]byte{0x0a, 0x01, 0xff})            // invalid UTF-8
	f.Add([]byte{0x0a, 0x01, 'x', 0x0a, 0x00}) // the last field wins
	f.Add([]byte{0x0b, 0x0c})                  // a group
	f.Add([]byte{0x08, 0x80, 0x80})            // truncated varint
	f.Add([]byte{0x00})                        // field number zero
	checker := grpchealth.NewStaticChecker(pingService)
	_, h := grpchealth.NewHandler(checker)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, contentType := range []string{"application/json", "application/proto"} {
			req := httptest.NewRequest(http.MethodPost, "/grpc.health.v1.Health/Check", bytes.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusNotFound, http.StatusBadRequest:
			default:
				t.Fatalf("%s: status %d: %s", contentType, rec.Code, rec.Body)
			}
			if contentType != "application/proto" {
				continue
			}
			var want healthpb.HealthCheckRequest
			wantCode := http.StatusNotFound
			if err := proto.Unmarshal(body, &want); err != nil {
				wantCode = http.StatusBadRequest
			} else if s := want.GetService(); s == "" || s == pingService {
				wantCode = http.StatusOK
			}
			if rec.Code != wantCode {
				t.Fatalf("binary %x: status %d, proto.Unmarshal says %d (%q)", body, rec.Code, wantCode, want.GetService())
			}
		}
		framed := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
		req := httptest.NewRequest(http.MethodPost, "/grpc.health.v1.Health/Check", bytes.NewReader(append(framed, body...)))
		req.Header.Set("Content-Type", "application/grpc-web+proto")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("grpc-web: status %d", rec.Code)
		}
	})
}

// FuzzListJSON registers an arbitrary service name and reads List in
// Connect JSON: the body must be valid JSON naming the service.
func FuzzListJSON(f *testing.F) {
	f.Add("connectware.test.v1.TestService")
	f.Add("quote\"back\\slash")
	f.Add("ctrl\x00\x1f\x7f")
	f.Add("bad\xffutf8")
	f.Add("emoji😀")
	f.Fuzz(func(t *testing.T, service string) {
		if service == "" {
			return
		}
		checker := grpchealth.NewStaticChecker(service)
		_, h := grpchealth.NewHandler(checker)
		req := httptest.NewRequest(http.MethodPost, "/grpc.health.v1.Health/List", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var got struct {
			Statuses map[string]struct {
				Status string `json:"status"`
			} `json:"statuses"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", rec.Body, err)
		}
		if len(got.Statuses) != 2 || got.Statuses[""].Status != "SERVING" {
			t.Fatalf("got %q", rec.Body)
		}
		if utf8.ValidString(service) && got.Statuses[service].Status != "SERVING" {
			t.Fatalf("service %q missing from %q", service, rec.Body)
		}
	})
}
