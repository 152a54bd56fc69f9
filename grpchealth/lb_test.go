package grpchealth_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/health" // grpc-go's client-side health checking
	"google.golang.org/grpc/status"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/testkit"
)

// TestGRPCGoClientSideHealthChecking: grpc-go's round_robin balancer with
// healthCheckConfig watches our handler; when the backend's service turns
// NOT_SERVING (or the checker drains) calls fail with Unavailable, and they
// succeed again once it is SERVING.
func TestGRPCGoClientSideHealthChecking(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	srv := testkit.NewServer(t, newMux(checker), testkit.H2C)
	conn := testkit.GRPCConn(t, srv, grpc.WithDefaultServiceConfig(`{
		"loadBalancingConfig": [{"round_robin": {}}],
		"healthCheckConfig": {"serviceName": "`+pingService+`"}
	}`))
	call := func() codes.Code {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return status.Code(testkit.GRPCCall(ctx, conn, connect.StreamTypeUnary))
	}
	until := func(what string, want codes.Code) {
		t.Helper()
		eventually(t, what, func() bool { return call() == want })
	}
	until("healthy backend answers", codes.OK)

	checker.SetStatus(pingService, grpchealth.StatusNotServing)
	until("unhealthy backend is skipped", codes.Unavailable)
	checker.SetStatus(pingService, grpchealth.StatusServing)
	until("healthy again", codes.OK)

	checker.Shutdown()
	until("draining backend is skipped", codes.Unavailable)
	checker.Resume()
	until("resumed", codes.OK)
}
