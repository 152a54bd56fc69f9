package grpcreflect_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fullstorydev/grpcurl"
	"github.com/jhump/protoreflect/desc"
	jhumpreflect "github.com/jhump/protoreflect/grpcreflect"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestGRPCGoV1 drives the handler with grpc-go's generated v1 reflection
// client over h2c and TLS.
func TestGRPCGoV1(t *testing.T) {
	t.Parallel()
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		t.Run(n.String()+"/grpc-go/v1", func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, newMux(), n)
			conn := testkit.GRPCConn(t, srv)
			stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(t))
			assert.NoError(t, err)
			ask := func(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
				t.Helper()
				assert.NoError(t, stream.Send(req))
				res, err := stream.Recv()
				assert.NoError(t, err)
				assert.True(t, proto.Equal(res.GetOriginalRequest(), req), "original_request differs")
				return res
			}
			res := ask(&reflectionv1.ServerReflectionRequest{Host: "h", MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
			assert.Equal(t, res.GetValidHost(), "h")
			var names []string
			for _, s := range res.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			assert.Equal(t, names, wantServices)

			res = ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "connectware.test.v1.PingRequest"}})
			files := decodeFiles(t, res.GetFileDescriptorResponse().GetFileDescriptorProto())
			assert.Equal(t, files[0].GetName(), testFile)
			assert.True(t, slices.Contains(filePaths(files), validateFile), filePaths(files))
			link(t, files)

			res = ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "no.Such"}})
			assert.Equal(t, res.GetErrorResponse().GetErrorCode(), int32(5)) // NOT_FOUND

			res = ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "google.protobuf.MessageOptions"}})
			assert.True(t, slices.Contains(res.GetAllExtensionNumbersResponse().GetExtensionNumber(), 1159), res)

			assert.NoError(t, stream.CloseSend())
			_, err = stream.Recv()
			assert.Equal(t, err, io.EOF)
		})
	}
}

// TestGRPCGoV1Alpha drives the v1alpha handler with grpc-go's generated
// v1alpha client.
func TestGRPCGoV1Alpha(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, newMux(), testkit.H2C)
	conn := testkit.GRPCConn(t, srv)
	stream, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(t))
	assert.NoError(t, err)
	assert.NoError(t, stream.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_FileByFilename{FileByFilename: testFile}}))
	res, err := stream.Recv()
	assert.NoError(t, err)
	files := decodeFiles(t, res.GetFileDescriptorResponse().GetFileDescriptorProto())
	assert.Equal(t, files[0].GetName(), testFile)
	link(t, files)
	assert.NoError(t, stream.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_FileContainingExtension{
		FileContainingExtension: &reflectionv1alpha.ExtensionRequest{ContainingType: "google.protobuf.FieldOptions", ExtensionNumber: 1159},
	}}))
	res, err = stream.Recv()
	assert.NoError(t, err)
	assert.Equal(t, filePaths(decodeFiles(t, res.GetFileDescriptorResponse().GetFileDescriptorProto())), []string{validateFile})
	assert.NoError(t, stream.CloseSend())
	_, err = stream.Recv()
	assert.Equal(t, err, io.EOF)
}

// TestGrpcurl lists, describes and calls our services with the grpcurl
// library and jhump/protoreflect's reflection client, as the grpcurl
// command does.
func TestGrpcurl(t *testing.T) {
	t.Parallel()
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		t.Run(n.String()+"/grpcurl", func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, newMux(), n)
			conn := testkit.GRPCConn(t, srv)
			ctx := testContext(t)
			client := jhumpreflect.NewClientAuto(ctx, conn)
			defer client.Reset()
			source := grpcurl.DescriptorSourceFromServer(ctx, client)

			services, err := grpcurl.ListServices(source)
			assert.NoError(t, err)
			assert.Equal(t, services, wantServices)

			methods, err := grpcurl.ListMethods(source, testService)
			assert.NoError(t, err)
			assert.Equal(t, len(methods), 5)

			// PingRequest's file imports validate.proto; describing it
			// shows the rules, so the import was resolved.
			dsc, err := source.FindSymbol("connectware.test.v1.PingRequest")
			assert.NoError(t, err)
			text, err := grpcurl.GetDescriptorText(dsc, source)
			assert.NoError(t, err)
			assert.Contains(t, text, "message PingRequest")
			assert.Contains(t, text, "buf.validate.field")
			imports := dsc.GetFile().GetDependencies()
			assert.True(t, slices.ContainsFunc(imports, func(d *desc.FileDescriptor) bool { return d.GetName() == validateFile }), "validate.proto not imported")

			for _, name := range []string{healthService, "grpc.reflection.v1.ServerReflection"} {
				_, err := source.FindSymbol(name)
				assert.NoError(t, err, name)
			}
			_, err = source.FindSymbol("no.such.Thing")
			assert.Error(t, err)

			// Invoke Ping from the reflected schema, like `grpcurl -d`.
			var out bytes.Buffer
			parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source, strings.NewReader(`{"number": 7, "text": "hi"}`), grpcurl.FormatOptions{})
			assert.NoError(t, err)
			handler := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
			err = grpcurl.InvokeRPC(ctx, source, conn, testService+"/Ping", []string{}, handler, parser.Next)
			assert.NoError(t, err)
			assert.Equal(t, handler.Status.Code().String(), "OK", handler.Status.Message())
			assert.Contains(t, out.String(), `"number": "7"`)

			// And the health service, from its reflected descriptors.
			out.Reset()
			parser, formatter, err = grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source, strings.NewReader(`{"service": "`+testService+`"}`), grpcurl.FormatOptions{})
			assert.NoError(t, err)
			handler = &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
			err = grpcurl.InvokeRPC(ctx, source, conn, healthService+"/Check", []string{}, handler, parser.Next)
			assert.NoError(t, err)
			assert.Equal(t, handler.Status.Code().String(), "OK", handler.Status.Message())
			assert.Contains(t, out.String(), `"status": "SERVING"`)
		})
	}
}

func decodeFiles(t *testing.T, raw [][]byte) []*descriptorpb.FileDescriptorProto {
	t.Helper()
	assert.True(t, len(raw) > 0, "no files")
	files := make([]*descriptorpb.FileDescriptorProto, len(raw))
	for i, b := range raw {
		files[i] = &descriptorpb.FileDescriptorProto{}
		assert.NoError(t, proto.Unmarshal(b, files[i]))
	}
	return files
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	assert.NoError(t, err)
	return string(b)
}
