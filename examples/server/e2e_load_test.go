package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// loadClients returns GreetService clients in the three protocols (h2c for
// gRPC, HTTP/1.1 for the others), all with the token.
func (p *process) loadClients(t *testing.T) []greetv1connect.GreetServiceClient {
	return []greetv1connect.GreetServiceClient{
		p.greetClient(t, testkit.ConnectJSON, false, true),
		p.greetClient(t, testkit.ConnectProto, true, true),
		p.greetClient(t, testkit.GRPC, true, true),
		p.greetClient(t, testkit.GRPCWeb, false, true),
	}
}

// TestLoad: 2,000 calls at concurrency 50 across the three protocols are
// each answered OK or resource_exhausted (beyond the per-client limit),
// and health is still SERVING afterwards.
func TestLoad(t *testing.T) {
	p := startProcess(t, "-rate", "300", "-burst", "200")
	clients := p.loadClients(t)
	const calls, workers = 2000, 50
	var next, ok, exhausted atomic.Int64
	var mu sync.Mutex
	var unexpected []error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= calls {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := clients[i%int64(len(clients))].Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "load"}))
				cancel()
				switch connect.CodeOf(err) {
				case connect.CodeResourceExhausted:
					exhausted.Add(1)
				default:
					if err == nil {
						ok.Add(1)
						continue
					}
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, len(unexpected), 0, unexpected)
	assert.Equal(t, ok.Load()+exhausted.Load(), int64(calls))
	assert.True(t, ok.Load() >= 200, "at least the burst succeeds", ok.Load())
	t.Logf("%d OK, %d resource_exhausted", ok.Load(), exhausted.Load())

	health := grpchealth.NewClient(httpClient(true), p.URL, connect.WithGRPC())
	res, err := health.Check(context.Background(), &grpchealth.CheckRequest{Service: greetv1connect.GreetServiceName})
	assert.NoError(t, err)
	assert.Equal(t, res.Status, grpchealth.StatusServing)
}

// TestSIGTERMUnderLoad: SIGTERM in the middle of a load of unary and
// streaming calls in the three protocols. Every call the server accepted
// finishes: each unary call is answered OK, each stream whose first message
// arrived receives all its messages and ends OK; a call is refused only as
// unavailable (the connection refused or closed before the server took it
// on). The process exits 0 within 5 seconds.
func TestSIGTERMUnderLoad(t *testing.T) {
	p := startProcess(t, "-rate", "10000", "-burst", "10000")
	clients := p.loadClients(t)
	var unaryOK, accepted, completed, refused atomic.Int64
	var mu sync.Mutex
	var broken []error
	fail := func(err error) {
		mu.Lock()
		broken = append(broken, err)
		mu.Unlock()
	}
	// refusal reports whether err is how a client learns that the server
	// did not take its call on: unavailable (no connection, or HTTP/2's
	// GOAWAY), or an idle HTTP/1.1 connection the server closed as the
	// client reused it. That a call the server did accept is never cut off
	// shows in the server's stderr (no "cut off") and in the streams.
	refusal := func(err error) bool {
		return connect.CodeOf(err) == connect.CodeUnavailable ||
			errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 50 {
		client := clients[w%len(clients)]
		unary := w%2 == 1
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if unary {
					res, err := client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "drain"}))
					cancel()
					switch {
					case err == nil && res.Msg.GetGreeting() == "Hello, drain!":
						unaryOK.Add(1)
					case err != nil && refusal(err):
						refused.Add(1)
					default:
						fail(fmt.Errorf("unary: %v", err))
					}
					continue
				}
				stream, err := client.GreetStream(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "drain"}))
				if err != nil {
					cancel()
					if refusal(err) {
						refused.Add(1)
					} else {
						fail(fmt.Errorf("stream start: %v", err))
					}
					continue
				}
				n := 0
				for stream.Receive() {
					if n == 0 {
						accepted.Add(1)
					}
					n++
				}
				err = errors.Join(stream.Err(), stream.Close())
				cancel()
				switch {
				case n == 0 && refusal(err):
					refused.Add(1)
				case n == 3 && err == nil:
					completed.Add(1)
				default:
					fail(fmt.Errorf("stream after %d messages: %v", n, err))
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	var exitErr error
	select {
	case exitErr = <-p.done:
		p.done <- exitErr // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("no exit within 5 s of SIGTERM")
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	var exit *exec.ExitError
	if errors.As(exitErr, &exit) {
		t.Fatalf("exit status %d", exit.ExitCode())
	}
	assert.NoError(t, exitErr)
	assert.Equal(t, len(broken), 0, broken)
	assert.True(t, accepted.Load() > 25, "streams accepted", accepted.Load())
	assert.True(t, unaryOK.Load() > 25, "unary calls answered", unaryOK.Load())
	assert.Equal(t, completed.Load(), accepted.Load())
	assert.True(t, !strings.Contains(p.Stderr(), "cut off"), p.Stderr())
	t.Logf("exit %v after SIGTERM; %d unary calls OK, %d streams accepted and completed, %d calls refused",
		elapsed.Round(time.Millisecond), unaryOK.Load(), completed.Load(), refused.Load())
}
