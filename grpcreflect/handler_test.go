package grpcreflect_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestHandler asks every question over every network and protocol with the
// connect-go Client. Over HTTP/1.1 the bidi stream can't run, and the error
// must say to use HTTP/2.
func TestHandler(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, newMux(), func(t *testing.T, c testkit.Case) {
		t.Parallel()
		stream := newClient(c.Server, c.Protocol).NewStream(testContext(t))
		defer stream.Close() //nolint:errcheck // checked below on HTTP/2
		if !c.Network.HTTP2() {
			_, err := stream.ListServices()
			assert.Code(t, err, connect.CodeFailedPrecondition)
			assert.Contains(t, err.Error(), "needs HTTP/2 (h2c or TLS)")
			return
		}
		t.Run("list_services/sorted_from_mux", func(t *testing.T) {
			names, err := stream.ListServices()
			assert.NoError(t, err)
			assert.Equal(t, fullNames(names), wantServices)
		})
		t.Run("file_containing_symbol/with_dependencies", func(t *testing.T) {
			files, err := stream.FileContainingSymbol(testService)
			assert.NoError(t, err)
			paths := filePaths(files)
			assert.Equal(t, paths[0], testFile)
			assert.True(t, slices.Contains(paths, validateFile), "validate.proto missing from", paths)
			assert.True(t, slices.Contains(paths, "google/protobuf/descriptor.proto"), "descriptor.proto missing from", paths)
			assert.Equal(t, len(slices.Compact(slices.Sorted(slices.Values(paths)))), len(paths), "duplicate files in", paths)
			linked := link(t, files)
			svc, err := linked.FindDescriptorByName(testService)
			assert.NoError(t, err)
			assert.Equal(t, svc.(protoreflect.ServiceDescriptor).Methods().Len(), 5)
			// Clients decode validation error details with it.
			_, err = linked.FindDescriptorByName("buf.validate.Violations")
			assert.NoError(t, err)
		})
		t.Run("file_containing_symbol/dependencies_sent_once", func(t *testing.T) {
			files, err := stream.FileContainingSymbol("connectware.test.v1.PingRequest.number")
			assert.NoError(t, err)
			assert.Equal(t, filePaths(files), []string{testFile})
		})
		t.Run("file_by_filename/root_always_sent", func(t *testing.T) {
			files, err := stream.FileByFilename(validateFile)
			assert.NoError(t, err)
			assert.Equal(t, filePaths(files), []string{validateFile})
		})
		t.Run("file_containing_extension", func(t *testing.T) {
			files, err := stream.FileContainingExtension("google.protobuf.FieldOptions", 1159)
			assert.NoError(t, err)
			assert.Equal(t, filePaths(files), []string{validateFile})
		})
		t.Run("all_extension_numbers_of_type", func(t *testing.T) {
			nums, err := stream.AllExtensionNumbers("google.protobuf.FieldOptions")
			assert.NoError(t, err)
			assert.True(t, slices.Contains(nums, 1159), "buf.validate.field missing from", nums)
			assert.True(t, slices.IsSorted(nums), "not sorted:", nums)
			nums, err = stream.AllExtensionNumbers("connectware.test.v1.PingRequest")
			assert.NoError(t, err)
			assert.Equal(t, len(nums), 0)
		})
		t.Run("health_and_reflection_resolvable", func(t *testing.T) {
			for _, name := range []protoreflect.FullName{healthService, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName} {
				files, err := stream.FileContainingSymbol(name)
				assert.NoError(t, err, name)
				linked := link(t, files)
				_, err = linked.FindDescriptorByName(name)
				assert.NoError(t, err, name)
			}
		})
		t.Run("not_found/stream_goes_on", func(t *testing.T) {
			_, err := stream.FileContainingSymbol("no.such.Symbol")
			assert.Code(t, err, connect.CodeNotFound)
			assert.True(t, !grpcreflect.IsReflectionStreamBroken(err), "stream broken by", err)
			_, err = stream.FileByFilename("no/such/file.proto")
			assert.Code(t, err, connect.CodeNotFound)
			_, err = stream.FileContainingExtension("google.protobuf.FieldOptions", 999_999)
			assert.Code(t, err, connect.CodeNotFound)
			_, err = stream.FileContainingExtension("no.such.Message", 1)
			assert.Code(t, err, connect.CodeNotFound)
			_, err = stream.AllExtensionNumbers("no.such.Message")
			assert.Code(t, err, connect.CodeNotFound)
			_, err = stream.FileContainingSymbol("not a name!")
			assert.Code(t, err, connect.CodeNotFound)
			names, err := stream.ListServices()
			assert.NoError(t, err)
			assert.Equal(t, len(names), len(wantServices))
		})
		t.Run("close", func(t *testing.T) {
			_, err := stream.Close()
			assert.NoError(t, err)
		})
	})
}

// TestHandlerV1AlphaFallback checks that the Client falls back to v1alpha
// when only v1alpha is mounted.
func TestHandlerV1AlphaFallback(t *testing.T) {
	t.Parallel()
	mux := grpcreflect.NewMux(nil)
	reflector := grpcreflect.NewReflector(mux)
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		t.Run("h2c/"+p.String(), func(t *testing.T) {
			stream := newClient(srv, p).NewStream(testContext(t))
			names, err := stream.ListServices()
			assert.NoError(t, err)
			assert.Equal(t, fullNames(names), []string{grpcreflect.ReflectV1AlphaServiceName})
			assert.Equal(t, stream.Spec().Procedure, "/"+grpcreflect.ReflectV1AlphaServiceName+"/ServerReflectionInfo")
			_, err = stream.Close()
			assert.NoError(t, err)
		})
	}
}

// TestStaticReflector checks NewStaticReflector and the request headers and
// host options.
func TestStaticReflector(t *testing.T) {
	t.Parallel()
	reflector := grpcreflect.NewStaticReflector("b.v1.B", "a.v1.A", "b.v1.B")
	var gotHeader string
	mux := http.NewServeMux()
	path, h := grpcreflect.NewHandlerV1(reflector)
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Get("X-Token")
		h.ServeHTTP(w, r)
	}))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t),
		grpcreflect.WithRequestHeaders(http.Header{"X-Token": {"secret"}}),
		grpcreflect.WithReflectionHost("example.com"))
	names, err := stream.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, fullNames(names), []string{"a.v1.A", "b.v1.B"})
	assert.Equal(t, gotHeader, "secret")
	_, err = stream.Close()
	assert.NoError(t, err)
}

// TestHTTP1Message checks the HTTP/1.1 answer for each protocol's content
// type, and for a request no protocol claims.
func TestHTTP1Message(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, newMux(), testkit.HTTP1)
	url := srv.URL + "/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo"
	for _, tc := range []struct {
		contentType string
		status      int
	}{
		{"application/connect+proto", http.StatusOK},
		{"application/connect+json", http.StatusOK},
		{"application/grpc", http.StatusOK},
		{"application/grpc-web+proto", http.StatusOK},
		{"text/plain", http.StatusHTTPVersionNotSupported},
	} {
		t.Run("http1/"+tc.contentType, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, url, strings.NewReader(""))
			assert.NoError(t, err)
			req.Header.Set("Content-Type", tc.contentType)
			res, err := srv.Client.Do(req)
			assert.NoError(t, err)
			body := readAll(t, res)
			assert.Equal(t, res.StatusCode, tc.status, body)
			// gRPC carries the message in trailers, gRPC-Web in headers
			// (trailers-only), Connect and plain HTTP in the body.
			assert.Contains(t, body+res.Header.Get("Grpc-Message")+res.Trailer.Get("Grpc-Message"), "needs HTTP/2 (h2c or TLS)")
		})
	}
}

func fullNames(names []protoreflect.FullName) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out
}

func filePaths(files []*descriptorpb.FileDescriptorProto) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.GetName()
	}
	return out
}

// link checks that files form a complete, valid set and returns it.
func link(t *testing.T, files []*descriptorpb.FileDescriptorProto) protodesc.Resolver {
	t.Helper()
	linked, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: files})
	assert.NoError(t, err, "files don't link:", filePaths(files))
	return linked
}
