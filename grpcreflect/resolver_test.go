package grpcreflect_test

import (
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/fullstorydev/grpcurl"
	jhumpreflect "github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// greeterFile is a schema a server might load from `buf build` output:
// acme.v1.Greeter, with nothing of gRPC's health or reflection.
func greeterFile() *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/v1/greeter.proto"), Package: proto.String("acme.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Hello")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Greeter"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Greet"), InputType: proto.String(".acme.v1.Hello"), OutputType: proto.String(".acme.v1.Hello")}},
		}},
	}
}

// customResolverMux mounts Greeter, health and reflection (v1 and v1alpha)
// on a Mux whose Reflector resolves from files only.
func customResolverMux(files *protoregistry.Files, options ...grpcreflect.Option) *grpcreflect.Mux {
	mux := grpcreflect.NewMux(nil)
	reflector := grpcreflect.NewReflector(mux, append([]grpcreflect.Option{grpcreflect.WithDescriptorResolver(files)}, options...)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle("/acme.v1.Greeter/", http.NotFoundHandler())
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker()))
	return mux
}

// TestDescriptorResolverKeepsBuiltins: with a custom descriptor resolver
// that knows nothing of gRPC's health and reflection services, the Mux
// still lists them, so they must still resolve. `grpcurl describe` with no
// symbol (and grpcui) describes every listed service and fails on the
// first that doesn't.
func TestDescriptorResolverKeepsBuiltins(t *testing.T) {
	t.Parallel()
	files := newFiles(t, greeterFile())
	srv := testkit.NewServer(t, customResolverMux(files), testkit.H2C)
	conn := testkit.GRPCConn(t, srv)
	ctx := testContext(t)
	client := jhumpreflect.NewClientAuto(ctx, conn)
	defer client.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, client)

	services, err := grpcurl.ListServices(source)
	assert.NoError(t, err)
	assert.Equal(t, services, []string{"acme.v1.Greeter", healthService, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName})
	for _, name := range services {
		dsc, err := source.FindSymbol(name)
		assert.NoError(t, err, name)
		text, err := grpcurl.GetDescriptorText(dsc, source)
		assert.NoError(t, err, name)
		assert.Contains(t, text, "service ")
	}
	methods, err := grpcurl.ListMethods(source, healthService)
	assert.NoError(t, err)
	assert.Equal(t, methods, []string{healthService + ".Check", healthService + ".List", healthService + ".Watch"})
}

// TestDescriptorResolverCopiesWin: when the custom resolver has its own
// grpc/health/v1/health.proto, that copy is served, not the built-in one;
// the built-in reflection descriptors still fill in what it lacks.
func TestDescriptorResolverCopiesWin(t *testing.T) {
	t.Parallel()
	health := &descriptorpb.FileDescriptorProto{
		Name: proto.String("grpc/health/v1/health.proto"), Package: proto.String("grpc.health.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("OwnCopy")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Health"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Check"), InputType: proto.String(".grpc.health.v1.OwnCopy"), OutputType: proto.String(".grpc.health.v1.OwnCopy")}},
		}},
	}
	files := newFiles(t, greeterFile(), health)
	srv := testkit.NewServer(t, customResolverMux(files), testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	defer stream.Close() //nolint:errcheck // the answers are what matter

	got, err := stream.FileContainingSymbol(healthService)
	assert.NoError(t, err)
	assert.Equal(t, filePaths(got), []string{"grpc/health/v1/health.proto"})
	assert.Equal(t, got[0].GetMessageType()[0].GetName(), "OwnCopy")
	_, err = stream.FileContainingSymbol("grpc.health.v1.HealthCheckRequest")
	assert.Code(t, err, connect.CodeNotFound) // only in the built-in copy
	got, err = stream.FileByFilename("grpc/reflection/v1/reflection.proto")
	assert.NoError(t, err)
	_, err = link(t, got).FindDescriptorByName(grpcreflect.ReflectV1ServiceName)
	assert.NoError(t, err)
}

// TestDescriptorResolverPrivateBuiltins: WithPrivate hides the built-in
// descriptors behind a custom resolver as it hides any other.
func TestDescriptorResolverPrivateBuiltins(t *testing.T) {
	t.Parallel()
	files := newFiles(t, greeterFile())
	srv := testkit.NewServer(t, customResolverMux(files, grpcreflect.WithPrivate("grpc.health.v1")), testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	defer stream.Close() //nolint:errcheck // the answers are what matter

	names, err := stream.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, fullNames(names), []string{"acme.v1.Greeter", grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName})
	_, err = stream.FileContainingSymbol(healthService)
	assert.Code(t, err, connect.CodeNotFound)
	_, err = stream.FileByFilename("grpc/health/v1/health.proto")
	assert.Code(t, err, connect.CodeNotFound)
	_, err = stream.FileContainingSymbol(grpcreflect.ReflectV1AlphaServiceName)
	assert.NoError(t, err)
}
