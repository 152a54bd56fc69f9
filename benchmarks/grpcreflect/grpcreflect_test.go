// Package grpcreflect_test compares connectware's gRPC server reflection with
// connectrpc.com/grpcreflect v1.3.1.
//
//	go test -run '^$' -bench . -benchmem ./grpcreflect/
//
// Each iteration is one reflection stream, in process: an HTTP/2 gRPC
// request carrying one reflection request goes through the handler, and the
// response is written to a discarding ResponseWriter. For
// FileContainingSymbol the symbol is connectware.test.v1.TestService, whose
// file imports buf/validate/validate.proto, so every stream answers with
// test.proto and its whole dependency graph. "bare" is a connect-go bidi
// handler that answers with a prebuilt message of the same bytes: the floor
// any implementation pays for the stream and the payload.
package grpcreflect_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"connectrpc.com/connect"
	official "connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

var services = []string{
	testv1connect.TestServiceName,
	"grpc.health.v1.Health",
	grpcreflect.ReflectV1ServiceName,
	grpcreflect.ReflectV1AlphaServiceName,
}

// Reflection request fields (grpc.reflection.v1.ServerReflectionRequest).
const (
	fieldFileContainingSymbol = 4
	fieldListServices         = 7
)

func request(field protowire.Number, value string) []byte {
	msg := protowire.AppendTag(nil, field, protowire.BytesType)
	msg = protowire.AppendString(msg, value)
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// discard is a ResponseWriter that keeps only the status, and optionally the
// body.
type discard struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

func (d *discard) Header() http.Header  { return d.header }
func (d *discard) WriteHeader(code int) { d.status = code }
func (d *discard) Flush()               {}
func (d *discard) Write(p []byte) (int, error) {
	if d.body != nil {
		d.body.Write(p)
	}
	return len(p), nil
}

func serve(h http.Handler, path string, frame []byte, w *discard) {
	w.header = make(http.Header, 4)
	w.status = 0
	req := &http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: path},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header: http.Header{
			"Content-Type": {"application/grpc"},
			"Te":           {"trailers"},
		},
		Body:       io.NopCloser(bytes.NewReader(frame)),
		RequestURI: path,
	}
	req = req.WithContext(context.Background())
	h.ServeHTTP(w, req)
}

// firstMessage decodes the first gRPC message of a response body.
func firstMessage(b *testing.B, body []byte) []byte {
	b.Helper()
	if len(body) < 5 {
		b.Fatalf("no response message (%d bytes)", len(body))
	}
	n := binary.BigEndian.Uint32(body[1:5])
	return body[5 : 5+n]
}

// countFiles returns the number of file_descriptor_proto entries (field 4,
// then field 1) in a ServerReflectionResponse, and their names.
func countFiles(b *testing.B, msg []byte) []string {
	b.Helper()
	var names []string
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		msg = msg[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, msg)
			msg = msg[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(msg)
		msg = msg[n:]
		if num != 4 {
			continue
		}
		for len(v) > 0 {
			_, _, n := protowire.ConsumeTag(v)
			fileBytes, m := protowire.ConsumeBytes(v[n:])
			v = v[n+m:]
			var fdp descriptorpb.FileDescriptorProto
			if err := proto.Unmarshal(fileBytes, &fdp); err != nil {
				b.Fatal(err)
			}
			names = append(names, fdp.GetName())
		}
	}
	return names
}

type impl struct {
	name    string
	path    string
	handler http.Handler
}

func impls(tb testing.TB, payload [][]byte) []impl {
	tb.Helper()
	ours := grpcreflect.NewStaticReflector(services...)
	oursPath, oursHandler := grpcreflect.NewHandlerV1(ours)
	theirs := official.NewStaticReflector(services...)
	theirsPath, theirsHandler := official.NewHandlerV1(theirs)
	return []impl{
		{"connectware", oursPath + "ServerReflectionInfo", oursHandler},
		{"official", theirsPath + "ServerReflectionInfo", theirsHandler},
		bare(payload),
	}
}

// bare answers each request with a prebuilt message carrying payload.
func bare(payload [][]byte) impl {
	var msg []byte
	for _, p := range payload {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendBytes(msg, p)
	}
	res := &wrapperspb.BytesValue{Value: msg}
	path := "/bare.v1.Bare/Info"
	h := connect.NewBidiStreamHandler(path, func(_ context.Context, s *connect.BidiStream[emptypb.Empty, wrapperspb.BytesValue]) error {
		for {
			if _, err := s.Receive(); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if err := s.Send(res); err != nil {
				return err
			}
		}
	})
	return impl{"bare", path, h}
}

func run(b *testing.B, frame []byte, payload [][]byte, check func(b *testing.B, name string, msg []byte)) {
	for _, im := range impls(b, payload) {
		b.Run(im.name, func(b *testing.B) {
			w := &discard{body: new(bytes.Buffer)}
			serve(im.handler, im.path, frame, w) // warm caches, check the answer
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			if im.name != "bare" {
				check(b, im.name, firstMessage(b, w.body.Bytes()))
			}
			w.body = nil
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve(im.handler, im.path, frame, w)
			}
		})
	}
}

// BenchmarkFileContainingSymbol: one new stream per iteration asking for
// TestService's file, answered with test.proto and all its dependencies.
func BenchmarkFileContainingSymbol(b *testing.B) {
	frame := request(fieldFileContainingSymbol, testv1connect.TestServiceName)
	// The bare payload is connectware's own answer, so bare writes the same
	// bytes.
	payload := filesFor(b, frame)
	var want int
	run(b, frame, payload, func(b *testing.B, name string, msg []byte) {
		files := countFiles(b, msg)
		if want == 0 {
			want = len(files)
		}
		if len(files) != want || files[0] != "connectware/test/v1/test.proto" {
			b.Fatalf("%s answered %v", name, files)
		}
	})
}

// BenchmarkListServices: one new stream per iteration listing 4 services.
func BenchmarkListServices(b *testing.B) {
	frame := request(fieldListServices, "")
	run(b, frame, [][]byte{[]byte("x")}, func(b *testing.B, name string, msg []byte) {
		if !bytes.Contains(msg, []byte(testv1connect.TestServiceName)) {
			b.Fatalf("%s answered without TestService", name)
		}
	})
}

func filesFor(b *testing.B, frame []byte) [][]byte {
	b.Helper()
	path, h := grpcreflect.NewHandlerV1(grpcreflect.NewStaticReflector(services...))
	w := &discard{body: new(bytes.Buffer)}
	serve(h, path+"ServerReflectionInfo", frame, w)
	msg := firstMessage(b, w.body.Bytes())
	var files [][]byte
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		msg = msg[n:]
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if num == 4 {
			v, _ := protowire.ConsumeBytes(msg)
			for len(v) > 0 {
				_, _, k := protowire.ConsumeTag(v)
				f, m := protowire.ConsumeBytes(v[k:])
				files = append(files, f)
				v = v[k+m:]
			}
		}
		msg = msg[n:]
	}
	return files
}
