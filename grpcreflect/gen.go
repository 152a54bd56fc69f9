package grpcreflect

// The private Go types for the reflection messages, and the built-in
// descriptors of the upstream health and reflection files. Run from this
// directory with protoc and protoc-gen-go on PATH.
//
//go:generate protoc -I internal/proto --go_out=. --go_opt=module=github.com/connectware/connectware/grpcreflect connectware/grpcreflect/internal/v1/reflection.proto
//go:generate protoc -I internal/proto --descriptor_set_out=services.binpb grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto
