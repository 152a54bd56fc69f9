package grpchealth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/grpchealth"
	healthv1 "github.com/connectware/connectware/grpchealth/internal/healthv1"
	"github.com/connectware/connectware/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pingService is the name under which tests register the test service.
const pingService = "connectware.test.v1.TestService"

// newMux serves the test service and the health service for checker, as a
// real server would.
func newMux(checker grpchealth.Checker) *http.ServeMux {
	mux := testkit.NewMux(&testkit.PingServer{})
	mux.Handle(grpchealth.NewHandler(checker))
	return mux
}

// healthClient returns a health client for c's server and protocol.
func healthClient(c testkit.Case) *grpchealth.Client {
	return grpchealth.NewClient(c.Server.Client, c.Server.URL, c.Protocol.ClientOptions()...)
}

// testContext is a context that ends with the test, bounded so a broken
// stream fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually waits until cond holds, failing the test if it never does
// within a generous bound (no timing is asserted).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// next receives the next status from events, failing on error or timeout.
func next(t *testing.T, events <-chan grpchealth.WatchEvent) grpchealth.Status {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("watch ended")
		}
		if ev.Err != nil {
			t.Fatalf("watch failed: %v", ev.Err)
		}
		return ev.Response.Status
	case <-time.After(15 * time.Second):
		t.Fatal("no watch event")
	}
	return 0
}

// streamSendHook is a handler interceptor that calls hook with every
// message a streaming handler sends, before sending it.
type streamSendHook func(msg any)

func (h streamSendHook) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (h streamSendHook) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (h streamSendHook) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &hookConn{StreamingHandlerConn: conn, hook: h})
	}
}

type hookConn struct {
	connect.StreamingHandlerConn
	hook streamSendHook
}

func (c *hookConn) Send(msg any) error {
	c.hook(msg)
	return c.StreamingHandlerConn.Send(msg)
}

// statusOf reads the status of a health response message.
func statusOf(msg any) grpchealth.Status {
	return grpchealth.Status(msg.(*healthv1.HealthCheckResponse).GetStatus())
}
