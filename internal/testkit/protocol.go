package testkit

import (
	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// Protocol is a connect-go client protocol and codec.
type Protocol int

const (
	// ConnectJSON is the Connect protocol with the JSON codec.
	ConnectJSON Protocol = iota + 1
	// ConnectProto is the Connect protocol with the binary Protobuf codec.
	ConnectProto
	// GRPC is the gRPC protocol (HTTP/2 only).
	GRPC
	// GRPCWeb is the gRPC-Web protocol.
	GRPCWeb
)

// Protocols lists every Protocol, for table-driven tests.
func Protocols() []Protocol { return []Protocol{ConnectJSON, ConnectProto, GRPC, GRPCWeb} }

// String returns the name used in test names.
func (p Protocol) String() string {
	switch p {
	case ConnectJSON:
		return "connect_json"
	case ConnectProto:
		return "connect_proto"
	case GRPC:
		return "grpc"
	case GRPCWeb:
		return "grpcweb"
	}
	return "unknown"
}

// Name returns the connect-go protocol name: connect.ProtocolConnect,
// connect.ProtocolGRPC or connect.ProtocolGRPCWeb.
func (p Protocol) Name() string {
	switch p {
	case GRPC:
		return connect.ProtocolGRPC
	case GRPCWeb:
		return connect.ProtocolGRPCWeb
	}
	return connect.ProtocolConnect
}

// ClientOptions returns the connect-go client options selecting p.
func (p Protocol) ClientOptions() []connect.ClientOption {
	switch p {
	case ConnectJSON:
		return []connect.ClientOption{connect.WithProtoJSON()}
	case GRPC:
		return []connect.ClientOption{connect.WithGRPC()}
	case GRPCWeb:
		return []connect.ClientOption{connect.WithGRPCWeb()}
	}
	return nil
}

// Supports reports whether p can run over n: gRPC needs HTTP/2.
func (p Protocol) Supports(n Network) bool { return p != GRPC || n.HTTP2() }

// NewClient returns a TestService client for s speaking p, with opts added
// after the protocol options.
func NewClient(s *Server, p Protocol, opts ...connect.ClientOption) testv1connect.TestServiceClient {
	all := append(p.ClientOptions(), opts...)
	return testv1connect.NewTestServiceClient(s.Client, s.URL, all...)
}
