package grpcreflect

import (
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	reflectionv1 "github.com/connectware/connectware/grpcreflect/internal/reflectionv1"
	"github.com/connectware/connectware/internal/assert"
	_ "github.com/connectware/connectware/internal/gen/connectware/test/v1" // registers test.proto
)

func symbolRequest(name string) *reflectionv1.ServerReflectionRequest {
	return &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}}
}

func fileRequest(path string) *reflectionv1.ServerReflectionRequest {
	return &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: path}}
}

func answerFiles(t *testing.T, s *session, req *reflectionv1.ServerReflectionRequest) [][]byte {
	t.Helper()
	res := s.answer(req)
	files := res.GetFileDescriptorResponse().GetFileDescriptorProto()
	assert.True(t, len(files) > 0, "no files in", res)
	return files
}

// TestCacheSharesBytes checks that two streams get the very same serialized
// bytes: files are marshalled once, not per request.
func TestCacheSharesBytes(t *testing.T) {
	t.Parallel()
	r := NewStaticReflector()
	first := answerFiles(t, r.newSession(), symbolRequest("connectware.test.v1.TestService"))
	second := answerFiles(t, r.newSession(), symbolRequest("connectware.test.v1.TestService"))
	assert.Equal(t, len(first), len(second))
	for i := range first {
		assert.True(t, &first[i][0] == &second[i][0], "file", i, "was serialized again")
	}
	var fdp descriptorpb.FileDescriptorProto
	assert.NoError(t, proto.Unmarshal(first[0], &fdp))
	assert.Equal(t, fdp.GetName(), "connectware/test/v1/test.proto")

	r.Invalidate()
	third := answerFiles(t, r.newSession(), symbolRequest("connectware.test.v1.TestService"))
	assert.True(t, &third[0][0] != &first[0][0], "Invalidate kept the bytes")
	assert.Equal(t, string(third[0]), string(first[0]))
}

// swappable is a resolver whose contents can be replaced.
type swappable struct {
	files atomic.Pointer[protoregistry.Files]
}

func (s *swappable) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	return s.files.Load().FindFileByPath(p)
}

func (s *swappable) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	return s.files.Load().FindDescriptorByName(n)
}

func filesWith(t *testing.T, message string) *protoregistry.Files {
	t.Helper()
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("x.proto"), Package: proto.String("x"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String(message)}},
	}}})
	assert.NoError(t, err)
	return files
}

// TestCacheFollowsResolver checks that a resolver returning a new descriptor
// for a path gets freshly serialized bytes without Invalidate.
func TestCacheFollowsResolver(t *testing.T) {
	t.Parallel()
	res := &swappable{}
	res.files.Store(filesWith(t, "Old"))
	r := NewReflector(nil, WithDescriptorResolver(res))
	var fdp descriptorpb.FileDescriptorProto
	assert.NoError(t, proto.Unmarshal(answerFiles(t, r.newSession(), fileRequest("x.proto"))[0], &fdp))
	assert.Equal(t, fdp.GetMessageType()[0].GetName(), "Old")
	res.files.Store(filesWith(t, "New"))
	assert.NoError(t, proto.Unmarshal(answerFiles(t, r.newSession(), fileRequest("x.proto"))[0], &fdp))
	assert.Equal(t, fdp.GetMessageType()[0].GetName(), "New")
	assert.Equal(t, r.newSession().answer(symbolRequest("x.Old")).GetErrorResponse().GetErrorCode(), int32(5))
}

// TestBuiltinDescriptors checks the embedded health and reflection files,
// which the default resolver falls back on when grpc-go isn't linked. This
// test binary links grpc-go (for the interop tests), so the fallback is
// driven with an empty primary registry: a binary with connect-go handlers
// only.
func TestBuiltinDescriptors(t *testing.T) {
	t.Parallel()
	r := NewReflector(nil, WithDescriptorResolver(withBuiltins{primary: new(protoregistry.Files)}))
	for _, name := range []protoreflect.FullName{"grpc.health.v1.Health", "grpc.health.v1.Health.List", ReflectV1ServiceName, ReflectV1AlphaServiceName} {
		raw := answerFiles(t, r.newSession(), symbolRequest(string(name)))
		set := &descriptorpb.FileDescriptorSet{}
		for _, b := range raw {
			fdp := &descriptorpb.FileDescriptorProto{}
			assert.NoError(t, proto.Unmarshal(b, fdp))
			set.File = append(set.File, fdp)
		}
		linked, err := protodesc.NewFiles(set)
		assert.NoError(t, err, name)
		_, err = linked.FindDescriptorByName(name)
		assert.NoError(t, err, name)
	}
	// The default resolver prefers the registered copies.
	for _, path := range []string{"grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"} {
		fd, err := withBuiltins{primary: protoregistry.GlobalFiles}.FindFileByPath(path)
		assert.NoError(t, err, path)
		if global, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil {
			assert.True(t, fd == global, path, "not taken from GlobalFiles")
		}
	}
	// The private message copy never shows.
	s := NewStaticReflector().newSession()
	assert.Equal(t, s.answer(symbolRequest("connectware.grpcreflect.internal.v1.ServerReflectionRequest")).GetErrorResponse().GetErrorCode(), int32(5))
}

// TestNoPlaceholders checks that imports the resolver can't find are left
// out rather than sent as empty placeholder files.
func TestNoPlaceholders(t *testing.T) {
	t.Parallel()
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("y.proto"), Package: proto.String("y"), Dependency: []string{"missing.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Y")}},
	}}})
	if err != nil {
		// protodesc refuses unresolvable imports unless allowed; build with
		// AllowUnresolvable instead.
		fd, ferr := protodesc.FileOptions{AllowUnresolvable: true}.New(&descriptorpb.FileDescriptorProto{
			Name: proto.String("y.proto"), Package: proto.String("y"), Dependency: []string{"missing.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Y")}},
		}, new(protoregistry.Files))
		assert.NoError(t, ferr)
		files = new(protoregistry.Files)
		assert.NoError(t, files.RegisterFile(fd))
	}
	r := NewReflector(nil, WithDescriptorResolver(files))
	got := answerFiles(t, r.newSession(), symbolRequest("y.Y"))
	assert.Equal(t, len(got), 1)
	assert.Equal(t, r.newSession().answer(fileRequest("missing.proto")).GetErrorResponse().GetErrorCode(), int32(5))
}
