package grpcreflect_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	official "connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// The official interfaces and ours have the same method sets, so a value of
// either is a value of the other: migrating is an import-path change. These
// fail to compile otherwise. (grpcreflect/api_test.go checks every exported
// signature of the official package against ours.)
var (
	_ official.ExtensionResolver    = grpcreflect.ExtensionResolver(nil)
	_ grpcreflect.ExtensionResolver = official.ExtensionResolver(nil)
	_ official.Namer                = grpcreflect.Namer(nil)
	_ grpcreflect.Namer             = official.Namer(nil)
	_ official.Namer                = grpcreflect.NamerFunc(nil)
	_ official.Namer                = (*grpcreflect.Mux)(nil)
)

// TestSameValues: the shared constants mean the same.
func TestSameValues(t *testing.T) {
	if grpcreflect.ReflectV1ServiceName != official.ReflectV1ServiceName {
		t.Error("ReflectV1ServiceName differs")
	}
	if grpcreflect.ReflectV1AlphaServiceName != official.ReflectV1AlphaServiceName {
		t.Error("ReflectV1AlphaServiceName differs")
	}
}

// TestInterop: each package's client talks to the other's handler over h2c
// in Connect, gRPC and gRPC-Web, on v1 and v1alpha, and both handlers give
// the same answers: the same service list, and for TestService (whose file
// imports buf/validate/validate.proto) the same files in the same order.
func TestInterop(t *testing.T) {
	ours := grpcreflect.NewStaticReflector(services...)
	theirs := official.NewStaticReflector(services...)
	oursMux, theirsMux := http.NewServeMux(), http.NewServeMux()
	oursMux.Handle(grpcreflect.NewHandlerV1(ours))
	oursMux.Handle(grpcreflect.NewHandlerV1Alpha(ours))
	theirsMux.Handle(official.NewHandlerV1(theirs))
	theirsMux.Handle(official.NewHandlerV1Alpha(theirs))
	// v1alpha only: clients fall back to it.
	oursAlpha, theirsAlpha := http.NewServeMux(), http.NewServeMux()
	oursAlpha.Handle(grpcreflect.NewHandlerV1Alpha(ours))
	theirsAlpha.Handle(official.NewHandlerV1Alpha(theirs))
	client := h2cClient(t)
	oursURL, theirsURL := h2cServer(t, oursMux), h2cServer(t, theirsMux)
	oursAlphaURL, theirsAlphaURL := h2cServer(t, oursAlpha), h2cServer(t, theirsAlpha)

	for name, opts := range map[string][]connect.ClientOption{
		"connect_proto": nil,
		"connect_json":  {connect.WithProtoJSON()},
		"grpc":          {connect.WithGRPC()},
		"grpcweb":       {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			for _, pair := range []struct{ name, ours, theirs string }{
				{"v1", oursURL, theirsURL},
				{"v1alpha", oursAlphaURL, theirsAlphaURL},
			} {
				ctx := context.Background()
				// The official client against our handler, and ours against
				// the official handler.
				wantNames, wantFiles := askOfficial(t, official.NewClient(client, pair.theirs, opts...).NewStream(ctx))
				gotNames, gotFiles := askOfficial(t, official.NewClient(client, pair.ours, opts...).NewStream(ctx))
				compare(t, pair.name+"/official_client", gotNames, wantNames, gotFiles, wantFiles)
				gotNames, gotFiles = askOurs(t, grpcreflect.NewClient(client, pair.theirs, opts...).NewStream(ctx))
				compare(t, pair.name+"/our_client", gotNames, wantNames, gotFiles, wantFiles)
			}
		})
	}
}

func askOfficial(t *testing.T, stream *official.ClientStream) ([]protoreflect.FullName, []*descriptorpb.FileDescriptorProto) {
	t.Helper()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	files, err := stream.FileContainingSymbol(testv1connect.TestServiceName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.FileContainingSymbol("no.such.Symbol"); connect.CodeOf(err) != connect.CodeNotFound || official.IsReflectionStreamBroken(err) {
		t.Fatalf("unknown symbol: %v", err)
	}
	if _, err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	return names, files
}

func askOurs(t *testing.T, stream *grpcreflect.ClientStream) ([]protoreflect.FullName, []*descriptorpb.FileDescriptorProto) {
	t.Helper()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	files, err := stream.FileContainingSymbol(testv1connect.TestServiceName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.FileContainingSymbol("no.such.Symbol"); connect.CodeOf(err) != connect.CodeNotFound || grpcreflect.IsReflectionStreamBroken(err) {
		t.Fatalf("unknown symbol: %v", err)
	}
	if _, err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	return names, files
}

func compare(t *testing.T, name string, gotNames, wantNames []protoreflect.FullName, gotFiles, wantFiles []*descriptorpb.FileDescriptorProto) {
	t.Helper()
	if len(gotNames) != len(wantNames) {
		t.Fatalf("%s: services %v, want %v", name, gotNames, wantNames)
	}
	for i := range gotNames {
		if gotNames[i] != wantNames[i] {
			t.Fatalf("%s: services %v, want %v", name, gotNames, wantNames)
		}
	}
	if len(gotFiles) != len(wantFiles) || len(gotFiles) < 2 {
		t.Fatalf("%s: %d files, want %d", name, len(gotFiles), len(wantFiles))
	}
	for i := range gotFiles {
		if !proto.Equal(gotFiles[i], wantFiles[i]) {
			t.Fatalf("%s: file %d is %s, want %s (or contents differ)", name, i, gotFiles[i].GetName(), wantFiles[i].GetName())
		}
	}
}

func h2cServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}
