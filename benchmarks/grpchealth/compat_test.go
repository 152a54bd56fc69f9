package grpchealth_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	officialhealth "connectrpc.com/grpchealth"

	"github.com/connectware/connectware/grpchealth"
)

// The official package's exported API, with its exact signatures, exists in
// ours: migrating is an import-path change. These fail to compile otherwise.
var (
	_ func(grpchealth.Checker, ...connect.HandlerOption) (string, http.Handler)                        = grpchealth.NewHandler
	_ func(...string) *grpchealth.StaticChecker                                                        = grpchealth.NewStaticChecker
	_ func(connect.HTTPClient, string, ...connect.ClientOption) *grpchealth.Client                     = grpchealth.NewClient
	_ func(*grpchealth.StaticChecker, string, grpchealth.Status)                                       = (*grpchealth.StaticChecker).SetStatus
	_ func(*grpchealth.Client, context.Context, *grpchealth.CheckRequest) <-chan grpchealth.WatchEvent = (*grpchealth.Client).Watch
	_ grpchealth.Watcher                                                                               = (*grpchealth.StaticChecker)(nil)
	_ grpchealth.Checker                                                                               = (*grpchealth.Client)(nil)
	_                                                                                                  = grpchealth.WatchEvent{Response: &grpchealth.CheckResponse{}, Err: nil}
	_ string                                                                                           = grpchealth.HealthV1ServiceName
)

// TestSameValues: the shared names mean the same.
func TestSameValues(t *testing.T) {
	if grpchealth.HealthV1ServiceName != officialhealth.HealthV1ServiceName {
		t.Error("HealthV1ServiceName differs")
	}
	for _, pair := range [][2]uint8{
		{uint8(grpchealth.StatusUnknown), uint8(officialhealth.StatusUnknown)},
		{uint8(grpchealth.StatusServing), uint8(officialhealth.StatusServing)},
		{uint8(grpchealth.StatusNotServing), uint8(officialhealth.StatusNotServing)},
	} {
		if pair[0] != pair[1] {
			t.Errorf("status %d vs %d", pair[0], pair[1])
		}
		if grpchealth.Status(pair[0]).String() != officialhealth.Status(pair[1]).String() {
			t.Errorf("String of %d differs", pair[0])
		}
	}
}

// TestInterop: each package's client talks to the other's handler in the
// binary encodings (Connect, gRPC, gRPC-Web). The official JSON names enum
// values SERVING_STATUS_SERVING, not the canonical SERVING, so JSON is left
// out.
func TestInterop(t *testing.T) {
	const svc = "greet.v1.GreetService"
	ours := grpchealth.NewStaticChecker(svc)
	official := officialhealth.NewStaticChecker(svc)
	oursMux, officialMux := http.NewServeMux(), http.NewServeMux()
	oursMux.Handle(grpchealth.NewHandler(ours))
	officialMux.Handle(officialhealth.NewHandler(official))
	oursURL, client := h2cServer(t, oursMux)
	officialURL, _ := h2cServer(t, officialMux)
	ctx := context.Background()
	for name, opts := range map[string][]connect.ClientOption{
		"connect_proto": nil,
		"grpc":          {connect.WithGRPC()},
		"grpcweb":       {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := officialhealth.NewClient(client, oursURL, opts...).Check(ctx, &officialhealth.CheckRequest{Service: svc})
			if err != nil || res.Status != officialhealth.StatusServing {
				t.Fatalf("official client, our handler: %v %v", res, err)
			}
			_, err = officialhealth.NewClient(client, oursURL, opts...).Check(ctx, &officialhealth.CheckRequest{Service: "nope"})
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("official client, our handler, unknown: %v", err)
			}
			got, err := grpchealth.NewClient(client, officialURL, opts...).Check(ctx, &grpchealth.CheckRequest{Service: svc})
			if err != nil || got.Status != grpchealth.StatusServing {
				t.Fatalf("our client, official handler: %v %v", got, err)
			}
			wctx, cancel := context.WithCancel(ctx)
			events := officialhealth.NewClient(client, oursURL, opts...).Watch(wctx, &officialhealth.CheckRequest{Service: svc})
			if ev := <-events; ev.Err != nil || ev.Response.Status != officialhealth.StatusServing {
				t.Fatalf("official Watch of our handler: %+v", ev)
			}
			cancel()
			for range events {
			}
		})
	}
}
