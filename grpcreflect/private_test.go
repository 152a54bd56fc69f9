package grpcreflect_test

import (
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// acmeFiles builds a small schema in memory:
//
//	acme/shared.proto  acme.shared.Shared (extensions 100 to 199); imports
//	                   vault.proto without using it
//	acme/secret.proto  acme.secret.Secret
//	acme/vault.proto   acme.vault.Vault
//	acme/audit.proto   acme.audit.Record, public but used only by
//	                   AdminService
//	acme/api.proto     imports shared, secret and audit; acme.v1.Req uses
//	                   Shared and Secret
//	                   (plain, map and oneof fields); PublicService.Do,
//	                   PublicService.Leak(Secret); AdminService.Nuke,
//	                   AdminService.Audit(Record); extensions of Shared:
//	                   secret_ext (Secret, 100), public_ext (101)
func acmeFiles(t *testing.T) (*protoregistry.Files, *protoregistry.Types) {
	t.Helper()
	msg := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	field := func(name string, num int32, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(name),
			JsonName: proto.String(name),
			Number:   proto.Int32(num),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type:     descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
		}
		if typeName != "" {
			f.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	shared := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/shared.proto"), Package: proto.String("acme.shared"),
		Dependency: []string{"acme/vault.proto"}, // unused
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:           proto.String("Shared"),
			ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(200)}},
		}},
	}
	secret := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/secret.proto"), Package: proto.String("acme.secret"),
		MessageType: []*descriptorpb.DescriptorProto{msg("Secret", field("code", 1, ""))},
	}
	vault := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/vault.proto"), Package: proto.String("acme.vault"),
		MessageType: []*descriptorpb.DescriptorProto{msg("Vault")},
	}
	audit := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/audit.proto"), Package: proto.String("acme.audit"),
		MessageType: []*descriptorpb.DescriptorProto{msg("Record")},
	}
	oneofField := field("choice", 4, ".acme.secret.Secret")
	oneofField.OneofIndex = proto.Int32(0)
	mapEntry := msg("MEntry", field("key", 1, ""), field("value", 2, ".acme.secret.Secret"))
	mapEntry.Options = &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}
	mapField := field("m", 3, ".acme.v1.Req.MEntry")
	mapField.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	req := msg("Req", field("shared", 1, ".acme.shared.Shared"), field("secret", 2, ".acme.secret.Secret"), mapField, oneofField, field("name", 5, ""))
	req.NestedType = []*descriptorpb.DescriptorProto{mapEntry}
	req.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("pick")}}
	ext := func(name string, num int32, typeName string) *descriptorpb.FieldDescriptorProto {
		f := field(name, num, typeName)
		f.Extendee = proto.String(".acme.shared.Shared")
		f.JsonName = nil
		return f
	}
	method := func(name, in string) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(".acme.v1.Res")}
	}
	api := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/api.proto"), Package: proto.String("acme.v1"),
		Dependency:  []string{"acme/shared.proto", "acme/secret.proto", "acme/audit.proto"},
		MessageType: []*descriptorpb.DescriptorProto{req, msg("Res")},
		Extension:   []*descriptorpb.FieldDescriptorProto{ext("secret_ext", 100, ".acme.secret.Secret"), ext("public_ext", 101, "")},
		Service: []*descriptorpb.ServiceDescriptorProto{
			{Name: proto.String("PublicService"), Method: []*descriptorpb.MethodDescriptorProto{method("Do", ".acme.v1.Req"), method("Leak", ".acme.secret.Secret")}},
			{Name: proto.String("AdminService"), Method: []*descriptorpb.MethodDescriptorProto{method("Nuke", ".acme.v1.Req"), method("Audit", ".acme.audit.Record")}},
		},
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{shared, secret, vault, audit, api}})
	assert.NoError(t, err)
	types := new(protoregistry.Types)
	fd, err := files.FindFileByPath("acme/api.proto")
	assert.NoError(t, err)
	for i := range fd.Extensions().Len() {
		assert.NoError(t, types.RegisterExtension(dynamicpb.NewExtensionType(fd.Extensions().Get(i))))
	}
	return files, types
}

func acmeServer(t *testing.T, options ...grpcreflect.Option) *grpcreflect.ClientStream {
	t.Helper()
	files, types := acmeFiles(t)
	namer := grpcreflect.NamerFunc(func() []string { return []string{"acme.v1.PublicService", "acme.v1.AdminService"} })
	options = append([]grpcreflect.Option{grpcreflect.WithDescriptorResolver(files), grpcreflect.WithExtensionResolver(types)}, options...)
	reflector := grpcreflect.NewReflector(namer, options...)
	mux := grpcreflect.NewMux(nil)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	t.Cleanup(func() { _, _ = stream.Close() })
	return stream
}

// TestPrivateControl is the same schema with nothing private: everything is
// listed and served, so TestPrivate's checks can fail.
func TestPrivateControl(t *testing.T) {
	t.Parallel()
	stream := acmeServer(t)
	names, err := stream.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, fullNames(names), []string{"acme.v1.AdminService", "acme.v1.PublicService"})
	files, err := stream.FileContainingSymbol("acme.v1.PublicService")
	assert.NoError(t, err)
	assert.Equal(t, filePaths(files), []string{"acme/api.proto", "acme/shared.proto", "acme/secret.proto", "acme/audit.proto", "acme/vault.proto"})
	nums, err := stream.AllExtensionNumbers("acme.shared.Shared")
	assert.NoError(t, err)
	assert.Equal(t, nums, []protoreflect.FieldNumber{100, 101})
	_, err = stream.FileContainingSymbol("acme.secret.Secret")
	assert.NoError(t, err)
}

// TestPrivate hides AdminService and the acme.secret and acme.vault
// packages.
func TestPrivate(t *testing.T) {
	t.Parallel()
	stream := acmeServer(t, grpcreflect.WithPrivate("acme.v1.AdminService"), grpcreflect.WithPrivate("acme.secret", "acme.vault"))

	t.Run("h2c/grpc/not_listed", func(t *testing.T) {
		names, err := stream.ListServices()
		assert.NoError(t, err)
		assert.Equal(t, fullNames(names), []string{"acme.v1.PublicService"})
	})
	t.Run("h2c/grpc/not_resolvable", func(t *testing.T) {
		for _, name := range []protoreflect.FullName{
			"acme.v1.AdminService", "acme.v1.AdminService.Nuke", "acme.v1.AdminService.Audit", "acme.secret.Secret", "acme.secret.Secret.code",
			"acme.v1.PublicService.Leak", "acme.v1.Req.secret", "acme.v1.Req.m", "acme.v1.Req.MEntry", "acme.v1.secret_ext",
		} {
			_, err := stream.FileContainingSymbol(name)
			assert.Code(t, err, connect.CodeNotFound, name)
		}
		_, err := stream.FileByFilename("acme/secret.proto")
		assert.Code(t, err, connect.CodeNotFound)
		_, err = stream.FileByFilename("acme/vault.proto")
		assert.Code(t, err, connect.CodeNotFound)
		_, err = stream.FileContainingExtension("acme.shared.Shared", 100)
		assert.Code(t, err, connect.CodeNotFound)
		nums, err := stream.AllExtensionNumbers("acme.shared.Shared")
		assert.NoError(t, err)
		assert.Equal(t, nums, []protoreflect.FieldNumber{101})
		_, err = stream.AllExtensionNumbers("acme.secret.Secret")
		assert.Code(t, err, connect.CodeNotFound)
	})
	t.Run("h2c/grpc/cut_from_files", func(t *testing.T) {
		files, err := stream.FileContainingSymbol("acme.v1.PublicService")
		assert.NoError(t, err)
		// secret.proto and vault.proto declare only private elements, and
		// audit.proto is needed only by AdminService: none is sent nor
		// imported.
		assert.Equal(t, len(files[1].GetDependency()), 0)
		assert.Equal(t, filePaths(files), []string{"acme/api.proto", "acme/shared.proto"})
		api := files[0]
		assert.Equal(t, api.GetDependency(), []string{"acme/shared.proto"})
		assert.Equal(t, len(api.GetService()), 1)
		assert.Equal(t, api.GetService()[0].GetName(), "PublicService")
		assert.Equal(t, len(api.GetService()[0].GetMethod()), 1)
		var fields []string
		for _, f := range api.GetMessageType()[0].GetField() {
			fields = append(fields, f.GetName())
		}
		assert.Equal(t, fields, []string{"shared", "name"})
		assert.Equal(t, len(api.GetMessageType()[0].GetOneofDecl()), 0)
		assert.Equal(t, len(api.GetMessageType()[0].GetNestedType()), 0)
		assert.Equal(t, len(api.GetExtension()), 1)
		linked := link(t, files)
		_, err = linked.FindDescriptorByName("acme.v1.PublicService.Do")
		assert.NoError(t, err)
		_, err = stream.FileContainingSymbol("acme.v1.Req.name")
		assert.NoError(t, err)
		// audit.proto itself is public.
		files, err = stream.FileByFilename("acme/audit.proto")
		assert.NoError(t, err)
		assert.Equal(t, filePaths(files), []string{"acme/audit.proto"})
		files, err = stream.FileContainingExtension("acme.shared.Shared", 101)
		assert.NoError(t, err)
		assert.True(t, !slices.Contains(filePaths(files), "acme/secret.proto"), filePaths(files))
	})
}
