package grpchealth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"connectrpc.com/connect"

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
	defer checker.Close() // stops the probes
	// The service is NOT_SERVING until the probe has passed, and whenever
	// it fails later. Check only reads the cached result.
	ping := func(ctx context.Context) error { return nil } // e.g. db.PingContext
	checker.AddProbe("greet.v1.GreetService", "db", ping,
		grpchealth.WithProbeTimeout(time.Second),
		grpchealth.WithProbeInterval(5*time.Second),
	)
	for {
		res, err := checker.Check(context.Background(), &grpchealth.CheckRequest{Service: "greet.v1.GreetService"})
		if err != nil {
			fmt.Println(err)
			return
		}
		if res.Status == grpchealth.StatusServing {
			fmt.Println("greet:", res.Status)
			return
		}
		time.Sleep(time.Millisecond) // the first run has not finished yet
	}
	// Output:
	// greet: serving
}

func ExampleClient_WatchFunc() {
	checker := grpchealth.NewStaticChecker("greet.v1.GreetService")
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(checker))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := grpchealth.NewClient(srv.Client(), srv.URL, connect.WithGRPCWeb())
	err := client.WatchFunc(context.Background(), &grpchealth.CheckRequest{Service: "greet.v1.GreetService"},
		func(status grpchealth.Status) bool {
			fmt.Println(status)
			if status == grpchealth.StatusServing {
				checker.SetStatus("greet.v1.GreetService", grpchealth.StatusNotServing)
				return true // keep watching
			}
			return false // done
		})
	fmt.Println("err:", err)
	// Output:
	// serving
	// not_serving
	// err: <nil>
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
