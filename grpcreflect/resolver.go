package grpcreflect

import (
	_ "embed" // for the built-in descriptors
	"errors"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// builtinDescriptors is a FileDescriptorSet of grpc/health/v1/health.proto,
// grpc/reflection/v1/reflection.proto and
// grpc/reflection/v1alpha/reflection.proto (see gen.go). connect-go
// packages serve these services without registering their upstream names,
// which belong to grpc-go, so reflection falls back on these copies.
//
//go:embed services.binpb
var builtinDescriptors []byte

var builtinFiles = sync.OnceValue(func() protodesc.Resolver {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(builtinDescriptors, &set); err != nil {
		return new(protoregistry.Files)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return new(protoregistry.Files)
	}
	return files
})

// withBuiltins resolves from primary (protoregistry.GlobalFiles by
// default, or the resolver given to WithDescriptorResolver), then, for what
// primary reports as not found, from the built-in health and reflection
// descriptors.
type withBuiltins struct {
	primary protodesc.Resolver
}

func (r withBuiltins) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, err := r.primary.FindFileByPath(path)
	if errors.Is(err, protoregistry.NotFound) {
		return builtinFiles().FindFileByPath(path)
	}
	return fd, err
}

func (r withBuiltins) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	desc, err := r.primary.FindDescriptorByName(name)
	if !errors.Is(err, protoregistry.NotFound) {
		return desc, err
	}
	builtin, builtinErr := builtinFiles().FindDescriptorByName(name)
	if builtinErr != nil {
		return nil, err
	}
	// A file primary has replaces the built-in one of the same path
	// entirely: names only the built-in copy declares don't resolve.
	if _, pathErr := r.primary.FindFileByPath(builtin.ParentFile().Path()); pathErr == nil {
		return nil, err
	}
	return builtin, nil
}
