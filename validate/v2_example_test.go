// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	connect "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

// pingSpec describes connectware.test.v1.TestService/Ping for connect-go v2
// (generated code provides one such Spec per method).
var pingSpec = connect.Spec{
	StreamType: connect.StreamTypeUnary,
	Procedure:  "/connectware.test.v1.TestService/Ping",
}

// On a connect-go v2 server, NewServerInterceptor turns a request that
// breaks its rules into InvalidArgument, with every violation in a
// buf.validate.Violations detail; the handler never runs.
func ExampleNewServerInterceptor() {
	server := connect.NewServer(validate.NewServerInterceptor())
	server.Register(connect.Method{Spec: pingSpec, Handler: func(_ context.Context, _ connect.Spec, stream connect.ServerStream) error {
		var req testv1.PingRequest
		if err := stream.Receive(&req); err != nil {
			return err // the validation error
		}
		fmt.Println("the handler runs")
		return stream.Send(&testv1.PingResponse{Number: req.GetNumber()})
	}})
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := connect.NewClient(connecthttp.NewTransport(srv.Client(), srv.URL))
	err := client.CallUnary(context.Background(), pingSpec, &testv1.PingRequest{Number: -1}, &testv1.PingResponse{})
	fmt.Println(connect.CodeOf(err))
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		for _, detail := range cerr.Details() {
			msg, _ := connectproto.UnmarshalErrorDetail(detail)
			if violations, ok := msg.(*validatepb.Violations); ok {
				for _, v := range violations.GetViolations() {
					fmt.Println(v.GetRuleId())
				}
			}
		}
	}
	// Output:
	// invalid_argument
	// int64.gte_lte
}

// On a connect-go v2 client, NewClientInterceptor fails an invalid request
// before anything is sent: no server is needed to see it.
func ExampleNewClientInterceptor() {
	transport := connecthttp.NewTransport(http.DefaultClient, "http://127.0.0.1:1") // never dialed
	client := connect.NewClient(transport, validate.NewClientInterceptor())
	err := client.CallUnary(context.Background(), pingSpec, &testv1.PingRequest{Number: -1}, &testv1.PingResponse{})
	fmt.Println(connect.CodeOf(err))
	// Output: invalid_argument
}
