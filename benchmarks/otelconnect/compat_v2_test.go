package otelconnect_test

import (
	"context"

	"connectrpc.com/connect"
	connectv2 "connectrpc.com/connect/v2"
	official "connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/attribute"

	"github.com/connectware/connectware/otelconnect"
)

// The connect-go v2 constructors of connectrpc.com/otelconnect v0.12.0
// exist in ours with the same signatures. The first block pins ours, the
// second pins the official ones to the same shapes, so a change on either
// side that breaks a caller fails to compile.
var (
	_ func(...otelconnect.Option) (connectv2.ServerInterceptor, error) = otelconnect.NewServerInterceptor
	_ func(...otelconnect.Option) (connectv2.ClientInterceptor, error) = otelconnect.NewClientInterceptor

	_ func(...official.Option) (connectv2.ServerInterceptor, error) = official.NewServerInterceptor
	_ func(...official.Option) (connectv2.ClientInterceptor, error) = official.NewClientInterceptor
)

// migratedV2 is a connect-go v2 caller's code written against
// connectrpc.com/otelconnect v0.12.0, with only the import path changed:
// it must keep compiling. The official WithFilter and WithAttributeFilter
// take functions of either major's spec; so do ours.
func migratedV2(transport connectv2.Transport) (*connectv2.Server, *connectv2.Client, error) {
	opts := []otelconnect.Option{
		otelconnect.WithFilter(func(_ context.Context, spec connectv2.Spec) bool {
			return spec.Procedure != "/grpc.health.v1.Health/Check"
		}),
		otelconnect.WithFilter(func(_ context.Context, spec connect.Spec) bool { return !spec.IsClient }),
		otelconnect.WithAttributeFilter(func(_ connectv2.Spec, kv attribute.KeyValue) bool {
			return kv.Key != "server.port"
		}),
		otelconnect.WithAttributeFilter(func(_ connect.Spec, kv attribute.KeyValue) bool { return true }),
		otelconnect.WithAttributeFilter(otelconnect.AttributeFilter(func(connect.Spec, attribute.KeyValue) bool { return true })),
		otelconnect.WithTrustRemote(),
		otelconnect.WithPropagateResponseHeader(),
		otelconnect.WithTraceRequestHeader("x-request-id"),
		otelconnect.WithTraceResponseHeader("x-request-id"),
		otelconnect.WithServerPeerAttributes(),
		otelconnect.WithRPCSystem(otelconnect.GRPCSystem),
		otelconnect.WithoutTracing(),
		otelconnect.WithoutMetrics(),
	}
	serverInterceptor, err := otelconnect.NewServerInterceptor(opts...)
	if err != nil {
		return nil, nil, err
	}
	clientInterceptor, err := otelconnect.NewClientInterceptor(opts...)
	if err != nil {
		return nil, nil, err
	}
	return connectv2.NewServer(serverInterceptor), connectv2.NewClient(transport, clientInterceptor), nil
}

// officialV2 is the same code against the official package, to show the
// two are written alike.
func officialV2(transport connectv2.Transport) (*connectv2.Server, *connectv2.Client, error) {
	opts := []official.Option{
		official.WithFilter(func(_ context.Context, spec connectv2.Spec) bool {
			return spec.Procedure != "/grpc.health.v1.Health/Check"
		}),
		official.WithFilter(func(_ context.Context, spec connect.Spec) bool { return !spec.IsClient }),
		official.WithAttributeFilter(func(_ connectv2.Spec, kv attribute.KeyValue) bool {
			return kv.Key != "server.port"
		}),
		official.WithAttributeFilter(func(_ connect.Spec, kv attribute.KeyValue) bool { return true }),
		official.WithAttributeFilter(official.AttributeFilter(func(connect.Spec, attribute.KeyValue) bool { return true })),
		official.WithTrustRemote(),
		official.WithPropagateResponseHeader(),
		official.WithTraceRequestHeader("x-request-id"),
		official.WithTraceResponseHeader("x-request-id"),
		official.WithServerPeerAttributes(),
		official.WithRPCSystem(official.GRPCSystem),
		official.WithoutTracing(),
		official.WithoutMetrics(),
	}
	serverInterceptor, err := official.NewServerInterceptor(opts...)
	if err != nil {
		return nil, nil, err
	}
	clientInterceptor, err := official.NewClientInterceptor(opts...)
	if err != nil {
		return nil, nil, err
	}
	return connectv2.NewServer(serverInterceptor), connectv2.NewClient(transport, clientInterceptor), nil
}

var (
	_ = migratedV2
	_ = officialV2
)
