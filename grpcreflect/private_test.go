package grpcreflect_test

import (
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/fullstorydev/grpcurl"
	jhumpreflect "github.com/jhump/protoreflect/grpcreflect"
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

// newFiles links fdps into a registry, as a server loading `buf build`
// output would.
func newFiles(t *testing.T, fdps ...*descriptorpb.FileDescriptorProto) *protoregistry.Files {
	t.Helper()
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: fdps})
	assert.NoError(t, err)
	return files
}

// schemaServer serves reflection (v1 and v1alpha) from files alone, with no
// extensions and no services listed.
func schemaServer(t *testing.T, files *protoregistry.Files, options ...grpcreflect.Option) *testkit.Server {
	t.Helper()
	options = append([]grpcreflect.Option{grpcreflect.WithDescriptorResolver(files), grpcreflect.WithExtensionResolver(new(protoregistry.Types))}, options...)
	reflector := grpcreflect.NewReflector(nil, options...)
	mux := grpcreflect.NewMux(nil)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return testkit.NewServer(t, mux, testkit.H2C)
}

// schemaStream opens a reflection stream to a schemaServer.
func schemaStream(t *testing.T, files *protoregistry.Files, options ...grpcreflect.Option) *grpcreflect.ClientStream {
	t.Helper()
	stream := newClient(schemaServer(t, files, options...), testkit.GRPC).NewStream(testContext(t))
	t.Cleanup(func() { _, _ = stream.Close() })
	return stream
}

func enumType(name string, values ...string) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for i, v := range values {
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(v), Number: proto.Int32(int32(i))})
	}
	return e
}

func scalarField(name string, number int32) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(number),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
	}
}

// mapField returns the field and the nested entry message of
// map<string, value> name = number in message scope; an empty value means
// string values.
func mapField(scope, name, entry string, number int32, value string) (*descriptorpb.FieldDescriptorProto, *descriptorpb.DescriptorProto) {
	v := scalarField("value", 2)
	if value != "" {
		v.Type, v.TypeName = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String(value)
	}
	f := scalarField(name, number)
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	f.Type, f.TypeName = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String("."+scope+"."+entry)
	return f, &descriptorpb.DescriptorProto{
		Name:    proto.String(entry),
		Field:   []*descriptorpb.FieldDescriptorProto{scalarField("key", 1), v},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
}

// TestPrivateEnumValues: an enum's values are named in the enum's parent
// scope (acme.v1.SECRET_LAUNCH_CODES, not acme.v1.Secret.SECRET_LAUNCH_CODES),
// so hiding the enum must hide them by its descriptor, not by their names.
// That holds for enums nested in messages too.
func TestPrivateEnumValues(t *testing.T) {
	t.Parallel()
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/enums.proto"), Package: proto.String("acme.v1"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{
			enumType("Secret", "SECRET_UNSPECIFIED", "SECRET_LAUNCH_CODES"),
			enumType("Color", "COLOR_UNSPECIFIED", "COLOR_RED"),
		},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:     proto.String("Pub"),
			EnumType: []*descriptorpb.EnumDescriptorProto{enumType("Inner", "INNER_UNSPECIFIED", "INNER_KEY"), enumType("Shown", "SHOWN_UNSPECIFIED")},
		}},
	}
	hidden := []protoreflect.FullName{
		"acme.v1.Secret", "acme.v1.SECRET_LAUNCH_CODES", "acme.v1.SECRET_UNSPECIFIED",
		"acme.v1.Pub.Inner", "acme.v1.Pub.INNER_KEY", "acme.v1.Pub.INNER_UNSPECIFIED",
	}
	shown := []protoreflect.FullName{"acme.v1.Color", "acme.v1.COLOR_RED", "acme.v1.Pub.Shown", "acme.v1.Pub.SHOWN_UNSPECIFIED"}

	t.Run("h2c/grpc/control", func(t *testing.T) {
		t.Parallel()
		stream := schemaStream(t, newFiles(t, file))
		for _, name := range slices.Concat(hidden, shown) {
			_, err := stream.FileContainingSymbol(name)
			assert.NoError(t, err, name)
		}
	})
	t.Run("h2c/grpc/private", func(t *testing.T) {
		t.Parallel()
		stream := schemaStream(t, newFiles(t, file), grpcreflect.WithPrivate("acme.v1.Secret", "acme.v1.Pub.Inner"))
		for _, name := range hidden {
			_, err := stream.FileContainingSymbol(name)
			assert.Code(t, err, connect.CodeNotFound, name)
		}
		for _, name := range shown {
			files, err := stream.FileContainingSymbol(name)
			assert.NoError(t, err, name)
			link(t, files)
		}
		files, err := stream.FileByFilename("acme/enums.proto")
		assert.NoError(t, err)
		assert.Equal(t, len(files[0].GetEnumType()), 1)
		assert.Equal(t, files[0].GetEnumType()[0].GetName(), "Color")
		assert.Equal(t, len(files[0].GetMessageType()[0].GetEnumType()), 1)
		assert.Equal(t, files[0].GetMessageType()[0].GetEnumType()[0].GetName(), "Shown")
	})
}

// TestPrivateMapField: a private map field takes its entry message
// (map_entry = true) with it, and with the entry the imports only its value
// type needed. Other maps in the message stay.
func TestPrivateMapField(t *testing.T) {
	t.Parallel()
	label := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/label.proto"), Package: proto.String("acme.label"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Label")}},
	}
	labels, labelsEntry := mapField("acme.v1.Item", "labels", "LabelsEntry", 1, ".acme.label.Label")
	attrs, attrsEntry := mapField("acme.v1.Item", "attrs", "AttrsEntry", 3, "")
	item := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/item.proto"), Package: proto.String("acme.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"acme/label.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:       proto.String("Item"),
			Field:      []*descriptorpb.FieldDescriptorProto{labels, scalarField("name", 2), attrs},
			NestedType: []*descriptorpb.DescriptorProto{labelsEntry, attrsEntry},
		}},
	}
	entryNames := []protoreflect.FullName{"acme.v1.Item.LabelsEntry", "acme.v1.Item.LabelsEntry.value"}

	t.Run("h2c/grpc/control", func(t *testing.T) {
		t.Parallel()
		stream := schemaStream(t, newFiles(t, label, item))
		files, err := stream.FileByFilename("acme/item.proto")
		assert.NoError(t, err)
		assert.Equal(t, filePaths(files), []string{"acme/item.proto", "acme/label.proto"})
		for _, name := range entryNames {
			_, err := stream.FileContainingSymbol(name)
			assert.NoError(t, err, name)
		}
	})
	t.Run("h2c/grpc/private", func(t *testing.T) {
		t.Parallel()
		stream := schemaStream(t, newFiles(t, label, item), grpcreflect.WithPrivate("acme.v1.Item.labels"))
		for _, name := range slices.Concat(entryNames, []protoreflect.FullName{"acme.v1.Item.labels"}) {
			_, err := stream.FileContainingSymbol(name)
			assert.Code(t, err, connect.CodeNotFound, name)
		}
		files, err := stream.FileByFilename("acme/item.proto")
		assert.NoError(t, err)
		assert.Equal(t, filePaths(files), []string{"acme/item.proto"})
		msg := files[0].GetMessageType()[0]
		var fields, nested []string
		for _, f := range msg.GetField() {
			fields = append(fields, f.GetName())
		}
		for _, n := range msg.GetNestedType() {
			nested = append(nested, n.GetName())
		}
		assert.Equal(t, fields, []string{"name", "attrs"})
		assert.Equal(t, nested, []string{"AttrsEntry"})
		d, err := link(t, files).FindDescriptorByName("acme.v1.Item.attrs")
		assert.NoError(t, err)
		assert.True(t, d.(protoreflect.FieldDescriptor).IsMap(), "attrs is no longer a map")
	})
}

// TestPrivateKeepsPublicImportOfOption: when something in a file is private,
// imports that only the private elements used are dropped, but an import
// that re-exports (with "import public") the definition of an option the
// file sets is still needed, as a wrapper of google/api/annotations.proto
// is for google.api.http. grpcurl must still show the option.
func TestPrivateKeepsPublicImportOfOption(t *testing.T) {
	t.Parallel()
	descriptorFile := protodesc.ToFileDescriptorProto(descriptorpb.File_google_protobuf_descriptor_proto)
	tagFile := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/opt/tag.proto"), Package: proto.String("acme.opt"), Syntax: proto.String("proto2"),
		Dependency: []string{"google/protobuf/descriptor.proto"},
		Extension: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("tag"), JsonName: proto.String("tag"), Number: proto.Int32(50000), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Extendee: proto.String(".google.protobuf.MessageOptions"),
		}},
	}
	// wrapper.proto re-exports tag.proto through a second wrapper.
	inner := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/opt/inner.proto"), Package: proto.String("acme.opt"), Syntax: proto.String("proto3"),
		Dependency: []string{"acme/opt/tag.proto"}, PublicDependency: []int32{0},
	}
	wrapper := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/opt/wrapper.proto"), Package: proto.String("acme.opt"), Syntax: proto.String("proto3"),
		Dependency: []string{"acme/opt/inner.proto"}, PublicDependency: []int32{0},
	}
	tagFD, err := newFiles(t, descriptorFile, tagFile).FindFileByPath("acme/opt/tag.proto")
	assert.NoError(t, err)
	options := &descriptorpb.MessageOptions{}
	proto.SetExtension(options, dynamicpb.NewExtensionType(tagFD.Extensions().Get(0)), "hello")
	api := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/api.proto"), Package: proto.String("acme.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"acme/opt/wrapper.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Pub"), Options: options},
			{Name: proto.String("Priv")},
		},
	}
	files := newFiles(t, descriptorFile, tagFile, inner, wrapper, api)

	for _, private := range []bool{false, true} {
		name := "h2c/grpc/control"
		var options []grpcreflect.Option
		if private {
			name = "h2c/grpc/private"
			options = append(options, grpcreflect.WithPrivate("acme.v1.Priv"))
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := schemaServer(t, files, options...)
			stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
			defer stream.Close() //nolint:errcheck // the answers are what matter
			got, err := stream.FileByFilename("acme/api.proto")
			assert.NoError(t, err)
			assert.Equal(t, got[0].GetDependency(), []string{"acme/opt/wrapper.proto"})
			assert.Equal(t, filePaths(got), []string{"acme/api.proto", "acme/opt/wrapper.proto", "acme/opt/inner.proto", "acme/opt/tag.proto", "google/protobuf/descriptor.proto"})
			assert.Equal(t, len(got[0].GetMessageType()), map[bool]int{false: 2, true: 1}[private])

			// `grpcurl describe acme.v1.Pub`
			ctx := testContext(t)
			client := jhumpreflect.NewClientAuto(ctx, testkit.GRPCConn(t, srv))
			defer client.Reset()
			source := grpcurl.DescriptorSourceFromServer(ctx, client)
			dsc, err := source.FindSymbol("acme.v1.Pub")
			assert.NoError(t, err)
			text, err := grpcurl.GetDescriptorText(dsc, source)
			assert.NoError(t, err)
			assert.Contains(t, text, `option (.acme.opt.tag) = "hello";`)
		})
	}
}

// TestPrivateInternalPackages: grpcreflect and grpchealth register private
// copies of their messages in protoregistry.GlobalFiles (this test binary
// imports both). They are implementation details: the default Reflector
// hides them with nothing configured, while the upstream health and
// reflection services stay reachable.
func TestPrivateInternalPackages(t *testing.T) {
	t.Parallel()
	internal := []struct {
		file   string
		symbol protoreflect.FullName
	}{
		{"connectware/grpchealth/v1/health.proto", "connectware.grpchealth.internal.v1.HealthCheckRequest"},
		{"connectware/grpcreflect/internal/v1/reflection.proto", "connectware.grpcreflect.internal.v1.ServerReflectionRequest"},
	}
	for _, f := range internal {
		// Registered, so only privacy keeps them from being served.
		_, err := protoregistry.GlobalFiles.FindFileByPath(f.file)
		assert.NoError(t, err, f.file)
		_, err = protoregistry.GlobalFiles.FindDescriptorByName(f.symbol)
		assert.NoError(t, err, f.symbol)
	}
	srv := testkit.NewServer(t, newMux(), testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	defer stream.Close() //nolint:errcheck // the answers are what matter
	for _, f := range internal {
		_, err := stream.FileByFilename(f.file)
		assert.Code(t, err, connect.CodeNotFound, f.file)
		_, err = stream.FileContainingSymbol(f.symbol)
		assert.Code(t, err, connect.CodeNotFound, f.symbol)
	}
	for _, name := range []protoreflect.FullName{healthService, "grpc.health.v1.HealthCheckRequest", grpcreflect.ReflectV1ServiceName} {
		_, err := stream.FileContainingSymbol(name)
		assert.NoError(t, err, name)
	}
}
