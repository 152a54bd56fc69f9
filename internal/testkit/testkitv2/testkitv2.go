// Package testkitv2 is the connect-go v2 side of the test kit: the
// TestService's v2 Specs and v2 clients for testkit's servers and
// protocols. There is no connect-go v2 generated code for the test
// service, so tests serve and call it with connect-go v2's untyped API
// (Server.Register with a Spec per method, Client.CallUnary and friends)
// on the generated Protobuf messages, as protoc-gen-connect-go v2's output
// does underneath. It is a package of its own so that only the tests that
// use connect-go v2 link it.
package testkitv2

import (
	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

// Spec is the connect-go v2 Spec of the TestService procedure (Ping, Fail,
// Sum, CountUp or CumSum).
func Spec(procedure string) connectv2.Spec {
	methods := testv1.File_connectware_test_v1_test_proto.Services().ByName("TestService").Methods()
	spec := connectv2.Spec{Procedure: procedure}
	switch procedure {
	case testv1connect.TestServicePingProcedure:
		spec.Schema = methods.ByName("Ping")
		spec.IdempotencyLevel = connectv2.IdempotencyNoSideEffects
	case testv1connect.TestServiceFailProcedure:
		spec.Schema = methods.ByName("Fail")
	case testv1connect.TestServiceSumProcedure:
		spec.Schema = methods.ByName("Sum")
		spec.StreamType = connectv2.StreamTypeClient
	case testv1connect.TestServiceCountUpProcedure:
		spec.Schema = methods.ByName("CountUp")
		spec.StreamType = connectv2.StreamTypeServer
	case testv1connect.TestServiceCumSumProcedure:
		spec.Schema = methods.ByName("CumSum")
		spec.StreamType = connectv2.StreamTypeBidi
	}
	return spec
}

// SpecOf is the Spec of the TestService method of stream type st (see
// testkit.Procedure).
func SpecOf(st connect.StreamType) connectv2.Spec { return Spec(testkit.Procedure(st)) }

// Options are the connect-go v2 transport options of protocol p.
func Options(p testkit.Protocol) []connecthttp.Option {
	switch p {
	case testkit.ConnectJSON:
		return []connecthttp.Option{connecthttp.WithProtoJSON()}
	case testkit.GRPC:
		return []connecthttp.Option{connecthttp.WithGRPC()}
	case testkit.GRPCWeb:
		return []connecthttp.Option{connecthttp.WithGRPCWeb()}
	}
	return nil
}

// NewClient returns a connect-go v2 client of srv speaking p, with the
// extra transport options opts.
func NewClient(srv *testkit.Server, p testkit.Protocol, opts []connecthttp.Option, interceptors ...connectv2.ClientInterceptor) *connectv2.Client {
	all := append(Options(p), opts...)
	return connectv2.NewClient(connecthttp.NewTransport(srv.Client, srv.URL, all...), interceptors...)
}
