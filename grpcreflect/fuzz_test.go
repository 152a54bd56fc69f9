package grpcreflect_test

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/grpcreflect"
)

// FuzzServerReflectionInfo feeds arbitrary bytes to the handler as a request
// message, followed by a list_services request. The handler must not panic;
// when the bytes are a valid request, the stream must succeed with one
// answer per request.
func FuzzServerReflectionInfo(f *testing.F) {
	seeds := []*reflectionv1.ServerReflectionRequest{
		{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}},
		{Host: "h", MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: testFile}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: testService}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.health.v1.Health.Check"}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingExtension{FileContainingExtension: &reflectionv1.ExtensionRequest{ContainingType: "google.protobuf.FieldOptions", ExtensionNumber: 1159}}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "google.protobuf.FieldOptions"}},
		{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "..."}},
		{},
	}
	for _, seed := range seeds {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0x22, 0x03, 'a', '.', 0x00})
	list, err := proto.Marshal(seeds[0])
	if err != nil {
		f.Fatal(err)
	}
	handler := newMux()
	path := "/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo"
	f.Fuzz(func(t *testing.T, msg []byte) {
		body := append(grpcFrame(msg), grpcFrame(list)...)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
		req.Header.Set("Content-Type", "application/grpc")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		if proto.Unmarshal(msg, &reflectionv1.ServerReflectionRequest{}) != nil {
			return
		}
		if got := res.Trailer.Get("Grpc-Status"); got != "0" {
			t.Fatalf("valid request: grpc-status %q (%s)", got, res.Trailer.Get("Grpc-Message"))
		}
		answers := 0
		for rest := rec.Body.Bytes(); len(rest) >= 5; answers++ {
			n := binary.BigEndian.Uint32(rest[1:5])
			if uint32(len(rest)-5) < n {
				t.Fatal("truncated response frame")
			}
			var out reflectionv1.ServerReflectionResponse
			if err := proto.Unmarshal(rest[5:5+n], &out); err != nil || out.GetMessageResponse() == nil {
				t.Fatalf("bad response message: %v", err)
			}
			rest = rest[5+n:]
		}
		if answers != 2 {
			t.Fatalf("got %d answers, want 2", answers)
		}
	})
}

// FuzzServiceFromPattern checks that pattern parsing never panics and only
// returns dotted names found in the pattern.
func FuzzServiceFromPattern(f *testing.F) {
	for _, p := range []string{"/a.B/", "POST /a.b.C/Method", "host/x.Y/", "/healthz", "", " ", "GET  /a.b/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		name, ok := grpcreflect.ServiceFromPattern(pattern)
		if ok && (name == "" || !bytes.Contains([]byte(pattern), []byte("/"+name))) {
			t.Fatalf("%q -> %q", pattern, name)
		}
	})
}
