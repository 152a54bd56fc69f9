package grpchealth_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"reflect"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestGRPCGoClient calls our handler with grpc-go's generated health client
// (Check, Watch, List) over h2c and TLS.
func TestGRPCGoClient(t *testing.T) {
	t.Parallel()
	for _, n := range []testkit.Network{testkit.H2C, testkit.TLS} {
		t.Run(n.String()+"/grpc-go", func(t *testing.T) {
			t.Parallel()
			checker := grpchealth.NewStaticChecker(pingService)
			srv := testkit.NewServer(t, newMux(checker), n)
			client := healthpb.NewHealthClient(testkit.GRPCConn(t, srv))
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()

			res, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
			assert.NoError(t, err)
			assert.Equal(t, res.GetStatus(), healthpb.HealthCheckResponse_SERVING)
			res, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: pingService})
			assert.NoError(t, err)
			assert.Equal(t, res.GetStatus(), healthpb.HealthCheckResponse_SERVING)
			_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope.v1.Nope"})
			assert.Equal(t, status.Code(err), codes.NotFound)

			watch, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: pingService})
			assert.NoError(t, err)
			recv := func() healthpb.HealthCheckResponse_ServingStatus {
				t.Helper()
				msg, err := watch.Recv()
				assert.NoError(t, err)
				return msg.GetStatus()
			}
			assert.Equal(t, recv(), healthpb.HealthCheckResponse_SERVING)
			checker.SetStatus(pingService, grpchealth.StatusNotServing)
			assert.Equal(t, recv(), healthpb.HealthCheckResponse_NOT_SERVING)

			unknown, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "later.v1.Svc"})
			assert.NoError(t, err)
			msg, err := unknown.Recv()
			assert.NoError(t, err)
			assert.Equal(t, msg.GetStatus(), healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
			checker.SetStatus("later.v1.Svc", grpchealth.StatusServing)
			msg, err = unknown.Recv()
			assert.NoError(t, err)
			assert.Equal(t, msg.GetStatus(), healthpb.HealthCheckResponse_SERVING)

			list, err := client.List(ctx, &healthpb.HealthListRequest{})
			assert.NoError(t, err)
			got := map[string]healthpb.HealthCheckResponse_ServingStatus{}
			for k, v := range list.GetStatuses() {
				got[k] = v.GetStatus()
			}
			assert.Equal(t, got, map[string]healthpb.HealthCheckResponse_ServingStatus{
				"":             healthpb.HealthCheckResponse_SERVING,
				pingService:    healthpb.HealthCheckResponse_NOT_SERVING,
				"later.v1.Svc": healthpb.HealthCheckResponse_SERVING,
			})

			// Draining: the watcher sees NOT_SERVING.
			checker.SetStatus(pingService, grpchealth.StatusServing)
			assert.Equal(t, recv(), healthpb.HealthCheckResponse_SERVING)
			checker.Shutdown()
			assert.Equal(t, recv(), healthpb.HealthCheckResponse_NOT_SERVING)
		})
	}
}

// TestRegistryNoConflict: this test binary links our package and grpc-go's
// grpc_health_v1. A registration conflict would panic at init (the
// protobuf-go default); here the canonical names belong to grpc-go and ours
// live under a private package.
func TestRegistryNoConflict(t *testing.T) {
	t.Parallel()
	assert.Equal(t, os.Getenv("GOLANG_PROTOBUF_REGISTRATION_CONFLICT"), "", "conflicts must panic in this test")
	mt, err := protoregistry.GlobalTypes.FindMessageByName("grpc.health.v1.HealthCheckResponse")
	assert.NoError(t, err)
	assert.Equal(t, reflect.TypeOf(mt.New().Interface()), reflect.TypeOf(&healthpb.HealthCheckResponse{}))
	_, err = protoregistry.GlobalFiles.FindFileByPath("grpc/health/v1/health.proto")
	assert.NoError(t, err)
	fd, err := protoregistry.GlobalFiles.FindFileByPath("connectware/grpchealth/v1/health.proto")
	assert.NoError(t, err)
	assert.True(t, fd.Package() != "grpc.health.v1", string(fd.Package()))
}

// TestClientAgainstGRPCGoServer: our Client (gRPC protocol, h2c) checks,
// watches and lists a grpc-go health server.
func TestClientAgainstGRPCGoServer(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NoError(t, err)
	server := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus(pingService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(server, hs)
	go func() { _ = server.Serve(lis) }()
	t.Cleanup(server.Stop)

	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(transport.CloseIdleConnections)
	client := grpchealth.NewClient(&http.Client{Transport: transport}, "http://"+lis.Addr().String(), connect.WithGRPC())
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()

	res, err := client.Check(ctx, &grpchealth.CheckRequest{Service: pingService})
	assert.NoError(t, err)
	assert.Equal(t, res.Status, grpchealth.StatusServing)
	_, err = client.Check(ctx, &grpchealth.CheckRequest{Service: "nope"})
	assert.Code(t, err, connect.CodeNotFound)
	list, err := client.List(ctx)
	assert.NoError(t, err)
	assert.Equal(t, list, map[string]grpchealth.Status{"": grpchealth.StatusServing, pingService: grpchealth.StatusServing})

	events := client.Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
	assert.Equal(t, next(t, events), grpchealth.StatusServing)
	hs.SetServingStatus(pingService, healthpb.HealthCheckResponse_NOT_SERVING)
	assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
	cancel()
	for range events {
	}
}
