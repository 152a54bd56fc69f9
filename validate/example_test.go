// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// The interceptor on a handler turns a request that breaks its rules into
// InvalidArgument, with every violation in a buf.validate.Violations
// detail.
func Example() {
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(
		&testkit.PingServer{},
		connect.WithInterceptors(validate.NewInterceptor()),
	))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := testv1connect.NewTestServiceClient(srv.Client(), srv.URL)
	_, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: -1}))
	fmt.Println(connect.CodeOf(err))
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		for _, detail := range cerr.Details() {
			msg, _ := detail.Value()
			if violations, ok := msg.(*validatepb.Violations); ok {
				for _, v := range violations.GetViolations() {
					fmt.Println(protovalidate.FieldPathString(v.GetField()), v.GetRuleId())
				}
			}
		}
	}
	// Output:
	// invalid_argument
	// number int64.gte_lte
}

// A failure hook counts rejected messages, here by reason and procedure,
// as a metrics counter would.
func ExampleWithFailureHook() {
	counts := map[string]int{}
	interceptor := validate.NewInterceptor(
		validate.WithFailureHook(func(_ context.Context, f validate.Failure) {
			counts[f.Reason.String()+" "+f.Procedure]++ // use a concurrency-safe counter in real code
		}),
	)
	// On a client, invalid requests fail before anything is sent.
	client := testv1connect.NewTestServiceClient(http.DefaultClient, "http://127.0.0.1:1",
		connect.WithInterceptors(interceptor))
	_, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: 2_000_000}))
	fmt.Println(connect.CodeOf(err))
	fmt.Println(counts)
	// Output:
	// invalid_argument
	// map[violation /connectware.test.v1.TestService/Ping:1]
}

// Procedures and message types can be exempted, here Ping, whose invalid
// request then reaches the handler while other procedures stay guarded.
func ExampleWithIgnoreProcedures() {
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(
		&testkit.PingServer{},
		connect.WithInterceptors(validate.NewInterceptor(
			validate.WithIgnoreProcedures(testv1connect.TestServicePingProcedure),
		)),
	))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := testv1connect.NewTestServiceClient(srv.Client(), srv.URL)
	res, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{Number: -1}))
	fmt.Println(res.Msg.GetNumber(), err)
	stream := client.Sum(context.Background())
	_ = stream.Send(&testv1.SumRequest{Number: -1})
	_, err = stream.CloseAndReceive()
	fmt.Println(connect.CodeOf(err))
	// Output:
	// -1 <nil>
	// invalid_argument
}
