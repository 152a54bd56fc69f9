package grpcreflect_test

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/connectware/connectware/grpcreflect"
)

// The exported API of connectrpc.com/grpcreflect v1.3.1, with its exact
// signatures: this file fails to compile if ours drifts.
var (
	_ func(*grpcreflect.Reflector, ...connect.HandlerOption) (string, http.Handler) = grpcreflect.NewHandlerV1
	_ func(*grpcreflect.Reflector, ...connect.HandlerOption) (string, http.Handler) = grpcreflect.NewHandlerV1Alpha
	_ func(grpcreflect.Namer, ...grpcreflect.Option) *grpcreflect.Reflector         = grpcreflect.NewReflector
	_ func(...string) *grpcreflect.Reflector                                        = grpcreflect.NewStaticReflector
	_ func(grpcreflect.ExtensionResolver) grpcreflect.Option                        = grpcreflect.WithExtensionResolver
	_ func(protodesc.Resolver) grpcreflect.Option                                   = grpcreflect.WithDescriptorResolver
	_ grpcreflect.ExtensionResolver                                                 = protoregistry.GlobalTypes
	_ grpcreflect.Namer                                                             = grpcreflect.NamerFunc(nil)
	_ func(connect.HTTPClient, string, ...connect.ClientOption) *grpcreflect.Client = grpcreflect.NewClient
	_ func(http.Header) grpcreflect.ClientStreamOption                              = grpcreflect.WithRequestHeaders
	_ func(string) grpcreflect.ClientStreamOption                                   = grpcreflect.WithReflectionHost
	_ func(error) bool                                                              = grpcreflect.IsReflectionStreamBroken
	_ string                                                                        = grpcreflect.ReflectV1ServiceName
	_ string                                                                        = grpcreflect.ReflectV1AlphaServiceName

	_ func(*grpcreflect.Client, context.Context, ...grpcreflect.ClientStreamOption) *grpcreflect.ClientStream                       = (*grpcreflect.Client).NewStream
	_ func(*grpcreflect.ClientStream) connect.Spec                                                                                  = (*grpcreflect.ClientStream).Spec
	_ func(*grpcreflect.ClientStream) connect.Peer                                                                                  = (*grpcreflect.ClientStream).Peer
	_ func(*grpcreflect.ClientStream) http.Header                                                                                   = (*grpcreflect.ClientStream).ResponseHeader
	_ func(*grpcreflect.ClientStream) ([]protoreflect.FullName, error)                                                              = (*grpcreflect.ClientStream).ListServices
	_ func(*grpcreflect.ClientStream, string) ([]*descriptorpb.FileDescriptorProto, error)                                          = (*grpcreflect.ClientStream).FileByFilename
	_ func(*grpcreflect.ClientStream, protoreflect.FullName) ([]*descriptorpb.FileDescriptorProto, error)                           = (*grpcreflect.ClientStream).FileContainingSymbol
	_ func(*grpcreflect.ClientStream, protoreflect.FullName, protoreflect.FieldNumber) ([]*descriptorpb.FileDescriptorProto, error) = (*grpcreflect.ClientStream).FileContainingExtension
	_ func(*grpcreflect.ClientStream, protoreflect.FullName) ([]protoreflect.FieldNumber, error)                                    = (*grpcreflect.ClientStream).AllExtensionNumbers
	_ func(*grpcreflect.ClientStream) (http.Header, error)                                                                          = (*grpcreflect.ClientStream).Close

	// Additions.
	_ func(*http.ServeMux) *grpcreflect.Mux = grpcreflect.NewMux
	_ grpcreflect.Namer                     = (*grpcreflect.Mux)(nil)
	_ http.Handler                          = (*grpcreflect.Mux)(nil)
	_ func(...string) grpcreflect.Option    = grpcreflect.WithPrivate
	_ func(*grpcreflect.Reflector)          = (*grpcreflect.Reflector).Invalidate
	_ func(string) (string, bool)           = grpcreflect.ServiceFromPattern
)
