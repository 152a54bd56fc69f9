package grpcreflect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

// Mount services on a Mux, and reflection lists exactly what is mounted.
func Example() {
	mux := grpcreflect.NewMux(nil)
	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{}))
	reflector := grpcreflect.NewReflector(mux)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	// Reflection is a bidi stream: serve HTTP/2 (here h2c).
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	defer transport.CloseIdleConnections()

	client := grpcreflect.NewClient(&http.Client{Transport: transport}, srv.URL, connect.WithGRPC())
	stream := client.NewStream(context.Background())
	defer stream.Close() //nolint:errcheck // example
	names, err := stream.ListServices()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range names {
		fmt.Println(name)
	}
	files, err := stream.FileContainingSymbol("connectware.test.v1.PingRequest")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(files[0].GetName(), "imports", files[0].GetDependency())
	// Output:
	// connectware.test.v1.TestService
	// grpc.reflection.v1.ServerReflection
	// grpc.reflection.v1alpha.ServerReflection
	// connectware/test/v1/test.proto imports [buf/validate/validate.proto]
}

// WithPrivate keeps internal services out of the list and out of reach.
func ExampleWithPrivate() {
	reflector := grpcreflect.NewReflector(
		grpcreflect.NamerFunc(func() []string { return []string{"acme.v1.Public", "acme.admin.v1.Admin"} }),
		grpcreflect.WithPrivate("acme.admin"), // a whole package
	)
	mux := grpcreflect.NewMux(nil)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	defer transport.CloseIdleConnections()

	stream := grpcreflect.NewClient(&http.Client{Transport: transport}, srv.URL).NewStream(context.Background())
	defer stream.Close() //nolint:errcheck // example
	names, err := stream.ListServices()
	fmt.Println(names, err)
	// Output:
	// [acme.v1.Public] <nil>
}

// ServiceFromPattern finds the service in a route, for listing services
// mounted on routers other than Mux.
func ExampleServiceFromPattern() {
	for _, pattern := range []string{"/acme.v1.Greeter/", "POST /acme.v1.Greeter/Greet", "/healthz"} {
		name, ok := grpcreflect.ServiceFromPattern(pattern)
		fmt.Printf("%q %v\n", name, ok)
	}
	// Output:
	// "acme.v1.Greeter" true
	// "acme.v1.Greeter" true
	// "" false
}
