package grpcreflect_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// grpcFrame is one gRPC length-prefixed message.
func grpcFrame(msg []byte) []byte {
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// TestMalformedRequest sends bytes that aren't a request message, and a
// message over the size limit: each ends the stream with an error, and the
// server keeps serving.
func TestMalformedRequest(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, newMux(), testkit.H2C)
	url := srv.URL + "/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo"
	for _, tc := range []struct {
		name string
		body []byte
		code string
	}{
		{"h2c/grpc/garbage", grpcFrame([]byte{0xff, 0xff, 0xff, 0xff}), "3"},
		{"h2c/grpc/too_large", grpcFrame(append([]byte{0x1a, 0x80, 0x80, 0x08}, bytes.Repeat([]byte("a"), 128<<10)...)), "8"},
		{"h2c/grpc/truncated_frame", grpcFrame([]byte{0x1a, 0x05})[:6], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, url, bytes.NewReader(tc.body))
			assert.NoError(t, err)
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("Te", "trailers")
			res, err := srv.Client.Do(req)
			assert.NoError(t, err)
			readAll(t, res)
			got := res.Trailer.Get("Grpc-Status") + res.Header.Get("Grpc-Status")
			assert.True(t, got != "" && got != "0", "grpc-status", got)
			if tc.code != "" {
				assert.Equal(t, got, tc.code, res.Trailer.Get("Grpc-Message"))
			}
		})
	}
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	_, err := stream.ListServices()
	assert.NoError(t, err)
	_, err = stream.Close()
	assert.NoError(t, err)
}

// TestEmptyRequest sends a request with no question: the answer is an
// INVALID_ARGUMENT error_response and the stream goes on.
func TestEmptyRequest(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, newMux(), testkit.H2C)
	stream, err := reflectionv1.NewServerReflectionClient(testkit.GRPCConn(t, srv)).ServerReflectionInfo(testContext(t))
	assert.NoError(t, err)
	assert.NoError(t, stream.Send(&reflectionv1.ServerReflectionRequest{Host: "x"}))
	res, err := stream.Recv()
	assert.NoError(t, err)
	assert.Equal(t, res.GetErrorResponse().GetErrorCode(), int32(codes.InvalidArgument))
	assert.NoError(t, stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}))
	res, err = stream.Recv()
	assert.NoError(t, err)
	assert.Equal(t, len(res.GetListServicesResponse().GetService()), len(wantServices))
	assert.NoError(t, stream.CloseSend())
}

// TestManyRequestsOneStream asks thousands of questions on one stream.
func TestManyRequestsOneStream(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, newMux(), testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	for i := range 1200 {
		switch i % 3 {
		case 0:
			files, err := stream.FileContainingSymbol(testService)
			assert.NoError(t, err)
			if i > 0 {
				assert.Equal(t, filePaths(files), []string{testFile})
			}
		case 1:
			_, err := stream.FileContainingSymbol("no.such.Symbol")
			assert.Code(t, err, connect.CodeNotFound)
		case 2:
			names, err := stream.ListServices()
			assert.NoError(t, err)
			assert.Equal(t, len(names), len(wantServices))
		}
	}
	_, err := stream.Close()
	assert.NoError(t, err)
}

// TestClientStopsReading asks for large files without reading the answers,
// then goes away: the handler must return, and the server keeps serving.
func TestClientStopsReading(t *testing.T) {
	t.Parallel()
	var active atomic.Int32
	mux := newMux()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "ServerReflection") {
			active.Add(1)
			defer active.Add(-1)
		}
		mux.ServeHTTP(w, r)
	})
	srv := testkit.NewServer(t, h, testkit.H2C)
	conn := testkit.GRPCConn(t, srv)
	ctx, cancel := context.WithCancel(testContext(t))
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	assert.NoError(t, err)
	req := &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: "google/protobuf/descriptor.proto"}}
	for range 500 { // ~20 MB of answers, far beyond any flow-control window
		if err := stream.Send(req); err != nil {
			break
		}
	}
	waitFor(t, func() bool { return active.Load() == 1 }, "handler never started")
	cancel()
	waitFor(t, func() bool { return active.Load() == 0 }, "handler still running after the client left")

	again := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	_, err = again.FileByFilename("google/protobuf/descriptor.proto")
	assert.NoError(t, err)
	_, err = again.Close()
	assert.NoError(t, err)
}

// waitFor polls cond for up to 10 seconds, a bound on liveness, not a timing
// assertion.
func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
