package grpchealth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/connectware/connectware/grpchealth"
)

func Example() {
	checker := grpchealth.NewStaticChecker("greet.v1.GreetService")
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(checker))
	mux.Handle("/readyz", checker.ReadinessHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := grpchealth.NewClient(srv.Client(), srv.URL)
	res, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: "greet.v1.GreetService"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("greet:", res.Status)

	checker.Shutdown() // on SIGTERM, before draining the HTTP server
	probe, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(probe.Body)
	_ = probe.Body.Close()
	fmt.Print(probe.StatusCode, " ", string(body))
	// Output:
	// greet: serving
	// 503 {"status":"NOT_SERVING"}
}

func ExampleStaticChecker_AddProbe() {
	checker := grpchealth.NewStaticChecker("greet.v1.GreetService")
	defer checker.Close()
	// The service is NOT_SERVING until the probe has passed, and whenever
	// it fails later.
	ping := func(ctx context.Context) error { return nil } // e.g. db.PingContext
	checker.AddProbe("greet.v1.GreetService", "db", ping)
	_, _ = checker.Check(context.Background(), &grpchealth.CheckRequest{Service: "greet.v1.GreetService"})
}

func ExampleClient_Watch() {
	checker := grpchealth.NewStaticChecker("greet.v1.GreetService")
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(checker))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := grpchealth.NewClient(srv.Client(), srv.URL)
	events := client.Watch(ctx, &grpchealth.CheckRequest{Service: "greet.v1.GreetService"})
	fmt.Println((<-events).Response.Status)
	checker.SetStatus("greet.v1.GreetService", grpchealth.StatusNotServing)
	fmt.Println((<-events).Response.Status)
	cancel()
	for range events {
	}
	// Output:
	// serving
	// not_serving
}
