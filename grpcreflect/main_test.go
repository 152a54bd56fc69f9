package grpcreflect_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testService   = "connectware.test.v1.TestService"
	healthService = "grpc.health.v1.Health"
	testFile      = "connectware/test/v1/test.proto"
	validateFile  = "buf/validate/validate.proto"
)

// wantServices is what the mux in newMux lists.
var wantServices = []string{
	testService,
	healthService,
	grpcreflect.ReflectV1ServiceName,
	grpcreflect.ReflectV1AlphaServiceName,
}

// newMux mounts reflection (v1 and v1alpha), TestService, the health
// service and a plain HTTP route, out of order, and returns the Mux.
func newMux(options ...grpcreflect.Option) *grpcreflect.Mux {
	mux := grpcreflect.NewMux(nil)
	reflector := grpcreflect.NewReflector(mux, options...)
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{}))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(testService)))
	mux.Handle("/healthz", http.NotFoundHandler())
	return mux
}

func newClient(s *testkit.Server, p testkit.Protocol) *grpcreflect.Client {
	return grpcreflect.NewClient(s.Client, s.URL, p.ClientOptions()...)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
