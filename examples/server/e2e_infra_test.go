package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

func (p *process) grpcConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	assert.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestHealthGRPCGo: grpc-go's health client, with no credentials.
func TestHealthGRPCGo(t *testing.T) {
	p := startProcess(t)
	health := healthpb.NewHealthClient(p.grpcConn(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, svc := range []string{"", "greet.v1.GreetService"} {
		res, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		assert.NoError(t, err, svc)
		assert.Equal(t, res.GetStatus(), healthpb.HealthCheckResponse_SERVING, svc)
	}
	list, err := health.List(ctx, &healthpb.HealthListRequest{})
	assert.NoError(t, err)
	assert.Equal(t, list.GetStatuses()["greet.v1.GreetService"].GetStatus(), healthpb.HealthCheckResponse_SERVING)
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: "greet.v1.GreetService"})
	assert.NoError(t, err)
	first, err := watch.Recv()
	assert.NoError(t, err)
	assert.Equal(t, first.GetStatus(), healthpb.HealthCheckResponse_SERVING)
}

// TestHealthConnect: our health client in every protocol, HTTP/1.1 too.
func TestHealthConnect(t *testing.T) {
	p := startProcess(t)
	forEachClient(t, func(t *testing.T, proto testkit.Protocol, h2c bool) {
		hc := httpClient(h2c)
		defer hc.CloseIdleConnections()
		client := grpchealth.NewClient(hc, p.URL, proto.ClientOptions()...)
		res, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: "greet.v1.GreetService"})
		assert.NoError(t, err)
		assert.Equal(t, res.Status, grpchealth.StatusServing)
	})
}

func TestHTTPProbes(t *testing.T) {
	p := startProcess(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(p.URL + path)
		assert.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, res.StatusCode, http.StatusOK, path)
		var got struct{ Status string }
		assert.NoError(t, json.Unmarshal(body, &got), string(body))
		assert.Equal(t, got.Status, "SERVING", path)
	}
}

// TestReflection: grpc-go's reflection clients (v1 and v1alpha) list what is
// mounted, sorted, and resolve GreetService with its validate.proto import;
// our client does the same over the Connect protocol.
func TestReflection(t *testing.T) {
	p := startProcess(t)
	want := []string{
		"greet.v1.GreetService",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := p.grpcConn(t)

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	assert.NoError(t, err)
	assert.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}))
	res, err := stream.Recv()
	assert.NoError(t, err)
	var got []string
	for _, s := range res.GetListServicesResponse().GetService() {
		got = append(got, s.GetName())
	}
	assert.Equal(t, got, want)
	assert.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "greet.v1.GreetService"}}))
	res, err = stream.Recv()
	assert.NoError(t, err)
	assert.True(t, len(res.GetFileDescriptorResponse().GetFileDescriptorProto()) >= 2, "greet.proto and its imports")

	alpha, err := reflectionalphapb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	assert.NoError(t, err)
	assert.NoError(t, alpha.Send(&reflectionalphapb.ServerReflectionRequest{MessageRequest: &reflectionalphapb.ServerReflectionRequest_ListServices{}}))
	alphaRes, err := alpha.Recv()
	assert.NoError(t, err)
	assert.Equal(t, len(alphaRes.GetListServicesResponse().GetService()), len(want))

	hc := httpClient(true)
	defer hc.CloseIdleConnections()
	ours := grpcreflect.NewClient(hc, p.URL).NewStream(ctx)
	names, err := ours.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, len(names), len(want))
	_, _ = ours.Close()
}

// TestDrainHealth: on SIGTERM a health watcher sees NOT_SERVING, then its
// stream ends (a Watch never ends on its own, and must not hold the drain
// open), and the process exits 0 within 5 seconds.
func TestDrainHealth(t *testing.T) {
	p := startProcess(t)
	health := healthpb.NewHealthClient(p.grpcConn(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: ""})
	assert.NoError(t, err)
	first, err := watch.Recv()
	assert.NoError(t, err)
	assert.Equal(t, first.GetStatus(), healthpb.HealthCheckResponse_SERVING)
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	next, err := watch.Recv()
	assert.NoError(t, err)
	assert.Equal(t, next.GetStatus(), healthpb.HealthCheckResponse_NOT_SERVING)
	_, err = watch.Recv()
	assert.True(t, err != nil, "the Watch stream ends")
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit status %d", exit.ExitCode())
		}
		assert.NoError(t, err)
	case <-time.After(5*time.Second - time.Since(start)):
		t.Fatal("did not exit within 5 s of SIGTERM")
	}
	assert.True(t, !strings.Contains(p.Stderr(), "cut off"), "the drain waited for the Watch stream:", p.Stderr())
}

// TestExampleClient runs examples/client against the server: Greet and
// GreetStream in three protocols, then health and reflection.
func TestExampleClient(t *testing.T) {
	p := startProcess(t)
	bin := filepath.Join(t.TempDir(), "client")
	out, err := exec.Command("go", "build", "-o", bin, "../client").CombinedOutput()
	assert.NoError(t, err, string(out))
	out, err = exec.Command(bin, "-addr", p.URL, "-token", p.Token, "-name", "Lin").CombinedOutput()
	assert.NoError(t, err, string(out))
	for _, want := range []string{
		"connect  Greet:       Hello, Lin!",
		"grpc     Greet:       Hello, Lin!",
		"grpc-web Greet:       Hello, Lin!",
		"grpc-web GreetStream: Goodbye, Lin!",
		"health   greet.v1.GreetService: serving",
		"reflect  grpc.reflection.v1alpha.ServerReflection",
	} {
		assert.Contains(t, string(out), want)
	}
}

// TestMetrics: /metrics is lint-clean Prometheus text with each
// GreetService method's duration histogram and its status codes, and
// OpenMetrics with trace_id exemplars.
func TestMetrics(t *testing.T) {
	p := startProcess(t)
	client := p.greetClient(t, testkit.ConnectJSON, false, true)
	ctx := context.Background()
	_, err := client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
	_, err = client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: ""}))
	assert.Code(t, err, connect.CodeInvalidArgument)
	stream, err := client.GreetStream(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
	for stream.Receive() {
	}
	assert.NoError(t, stream.Close())

	res, err := http.Get(p.URL + "/metrics")
	assert.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(body)
	for _, want := range []string{
		`rpc_server_call_duration_seconds_count{rpc_method="greet.v1.GreetService/Greet",rpc_response_status_code="OK",rpc_system_name="connectrpc"} 1`,
		`rpc_server_call_duration_seconds_count{error_type="INVALID_ARGUMENT",rpc_method="greet.v1.GreetService/Greet",rpc_response_status_code="INVALID_ARGUMENT",rpc_system_name="connectrpc"} 1`,
		`rpc_server_call_duration_seconds_count{rpc_method="greet.v1.GreetService/GreetStream",rpc_response_status_code="OK",rpc_system_name="connectrpc"} 1`,
	} {
		assert.Contains(t, text, want)
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	assert.NoError(t, err)
	assert.Equal(t, len(problems), 0, problems)

	req, _ := http.NewRequest(http.MethodGet, p.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	res, err = http.DefaultClient.Do(req)
	assert.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(body), `# {trace_id="`)
}
