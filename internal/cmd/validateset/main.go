// Command validateset writes a serialized FileDescriptorSet holding
// buf/validate/validate.proto and its imports, dependencies first, to
// standard output or to the file named by its only argument.
//
// The Buf Schema Registry cannot be reached from our machines, but the
// compiled descriptor of validate.proto ships inside the Go module
// buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go. Handing this set
// to protoc with --descriptor_set_in lets protoc resolve the import offline.
package main

import (
	"fmt"
	"os"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func main() {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var walk func(protoreflect.FileDescriptor)
	walk = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			walk(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	walk(validatepb.File_buf_validate_validate_proto)
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		fmt.Fprintln(os.Stderr, "validateset:", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 {
		err = os.WriteFile(os.Args[1], out, 0o644)
	} else {
		_, err = os.Stdout.Write(out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "validateset:", err)
		os.Exit(1)
	}
}
