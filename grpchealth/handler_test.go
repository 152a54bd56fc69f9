package grpchealth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestCheck runs Check in every protocol over every network: the whole
// server, a known service, a changed status and an unknown service.
func TestCheck(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	checker.SetStatus("down.v1.DownService", grpchealth.StatusNotServing)
	testkit.Matrix(t, newMux(checker), func(t *testing.T, c testkit.Case) {
		ctx := testContext(t)
		client := healthClient(c)
		for service, want := range map[string]grpchealth.Status{
			"":                    grpchealth.StatusServing,
			pingService:           grpchealth.StatusServing,
			"down.v1.DownService": grpchealth.StatusNotServing,
		} {
			res, err := client.Check(ctx, &grpchealth.CheckRequest{Service: service})
			assert.NoError(t, err, service)
			assert.Equal(t, res.Status, want, service)
		}
		_, err := client.Check(ctx, &grpchealth.CheckRequest{Service: "nope.v1.Nope"})
		assert.Code(t, err, connect.CodeNotFound)
		// The test service itself is served by the same mux.
		_, _, err = testkit.Call(ctx, c.Client(), connect.StreamTypeUnary, nil)
		assert.NoError(t, err)
	})
}

// TestCheckWholeServerStatus: the empty service is SERVING until set.
func TestCheckWholeServerStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var checker grpchealth.StaticChecker // the zero value works
	res, err := checker.Check(ctx, &grpchealth.CheckRequest{})
	assert.NoError(t, err)
	assert.Equal(t, res.Status, grpchealth.StatusServing)
	checker.SetStatus("", grpchealth.StatusNotServing)
	res, err = checker.Check(ctx, &grpchealth.CheckRequest{})
	assert.NoError(t, err)
	assert.Equal(t, res.Status, grpchealth.StatusNotServing)
	_, err = checker.Check(ctx, &grpchealth.CheckRequest{Service: "x"})
	assert.Code(t, err, connect.CodeNotFound)
}

// TestWatch runs Watch in every protocol over every network (HTTP/1.1
// included): the current status at once, then only changes.
func TestWatch(t *testing.T) {
	t.Parallel()
	for _, n := range testkit.Networks() {
		checker := grpchealth.NewStaticChecker(pingService)
		srv := testkit.NewServer(t, newMux(checker), n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			c := testkit.Case{Network: n, Protocol: p, Server: srv}
			t.Run(c.Name(), func(t *testing.T) {
				ctx, cancel := context.WithCancel(testContext(t))
				defer cancel()
				events := healthClient(c).Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
				assert.Equal(t, next(t, events), grpchealth.StatusServing)
				checker.SetStatus(pingService, grpchealth.StatusNotServing)
				assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
				// A repeated status is not sent again: the next message is
				// the real change (TestWatchSendsOnlyChanges pins this down
				// without relying on timing).
				checker.SetStatus(pingService, grpchealth.StatusNotServing)
				checker.SetStatus(pingService, grpchealth.StatusServing)
				assert.Equal(t, next(t, events), grpchealth.StatusServing)
				cancel()
				for range events {
				}
			})
		}
	}
}

// TestWatchUnknownService: an unknown service streams SERVICE_UNKNOWN, the
// stream stays open, and a later registration is delivered; both with a
// StaticChecker and with any Watcher whose Check says NotFound.
func TestWatchUnknownService(t *testing.T) {
	t.Parallel()
	for _, n := range testkit.Networks() {
		checker := grpchealth.NewStaticChecker()
		for kind, watcher := range map[string]grpchealth.Watcher{
			"static":  checker,
			"watcher": &countingWatcher{StaticChecker: checker},
		} {
			srv := testkit.NewServer(t, newMux(watcher), n)
			for _, p := range testkit.Protocols() {
				if !p.Supports(n) {
					continue
				}
				c := testkit.Case{Network: n, Protocol: p, Server: srv}
				t.Run(c.Name()+"/"+kind, func(t *testing.T) {
					ctx, cancel := context.WithCancel(testContext(t))
					defer cancel()
					service := "later.v1." + c.Name() + "/" + kind
					events := healthClient(c).Watch(ctx, &grpchealth.CheckRequest{Service: service})
					assert.Equal(t, next(t, events), grpchealth.StatusServiceUnknown)
					checker.SetStatus(service, grpchealth.StatusServing)
					assert.Equal(t, next(t, events), grpchealth.StatusServing)
					cancel()
					for range events {
					}
				})
			}
		}
	}
}

// refusingWatcher fails every Watch.
type refusingWatcher struct{ checkOnly }

func (refusingWatcher) Watch(context.Context, *grpchealth.CheckRequest, func()) (func(), error) {
	return nil, connect.NewError(connect.CodePermissionDenied, errors.New("no watching"))
}

// TestWatchWatcherError: a Watcher's error ends the stream with its code.
func TestWatchWatcherError(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, newMux(refusingWatcher{}), func(t *testing.T, c testkit.Case) {
		ev := <-healthClient(c).Watch(testContext(t), &grpchealth.CheckRequest{})
		assert.Code(t, ev.Err, connect.CodePermissionDenied)
	})
}

// countingWatcher counts the watches that are open (Watch called, stop not
// yet called).
type countingWatcher struct {
	*grpchealth.StaticChecker
	open atomic.Int64
}

func (w *countingWatcher) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	stop, err := w.StaticChecker.Watch(ctx, req, onChange)
	if err != nil {
		return nil, err
	}
	w.open.Add(1)
	var once sync.Once
	return func() { once.Do(func() { w.open.Add(-1); stop() }) }, nil
}

// TestWatchEndsWhenClientLeaves: when the client cancels, the handler
// returns and stops its watch (goleak checks no goroutine is left).
func TestWatchEndsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	for _, n := range testkit.Networks() {
		watcher := &countingWatcher{StaticChecker: grpchealth.NewStaticChecker(pingService)}
		srv := testkit.NewServer(t, newMux(watcher), n)
		for _, p := range testkit.Protocols() {
			if !p.Supports(n) {
				continue
			}
			c := testkit.Case{Network: n, Protocol: p, Server: srv}
			t.Run(c.Name(), func(t *testing.T) {
				ctx, cancel := context.WithCancel(testContext(t))
				events := healthClient(c).Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
				assert.Equal(t, next(t, events), grpchealth.StatusServing)
				assert.Equal(t, watcher.open.Load(), int64(1))
				cancel()
				for range events {
				}
				eventually(t, "watch stopped", func() bool { return watcher.open.Load() == 0 })
			})
		}
	}
}

// TestWatchSlowWatcherGetsLatest blocks the handler's second Send while the
// status flips many times: SetStatus never waits for the slow watcher, and
// once unblocked the watcher is sent the latest status, not the backlog.
func TestWatchSlowWatcherGetsLatest(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	gate := make(chan struct{})
	var openGate sync.Once
	release := func() { openGate.Do(func() { close(gate) }) }
	defer release()
	var sends atomic.Int64
	var sent []grpchealth.Status
	var mu sync.Mutex
	interceptor := streamSendHook(func(msg any) {
		n := sends.Add(1)
		if n == 2 {
			<-gate // the watcher "falls behind" here
		}
		mu.Lock()
		sent = append(sent, statusOf(msg))
		mu.Unlock()
	})
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(checker, connect.WithInterceptors(interceptor)))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	client := grpchealth.NewClient(srv.Client, srv.URL, connect.WithGRPC())
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	events := client.Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
	assert.Equal(t, next(t, events), grpchealth.StatusServing)
	checker.SetStatus(pingService, grpchealth.StatusNotServing)
	eventually(t, "second send blocked", func() bool { return sends.Load() == 2 })
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := range 1000 {
			checker.SetStatus(pingService, grpchealth.Status(1+i%2)) // ends on NOT_SERVING
		}
		checker.SetStatus(pingService, grpchealth.StatusServing)
	}()
	select {
	case <-flipped:
	case <-time.After(15 * time.Second):
		t.Fatal("SetStatus blocked on a slow watcher")
	}
	release()
	assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
	assert.Equal(t, next(t, events), grpchealth.StatusServing)
	cancel()
	for range events {
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, sent, []grpchealth.Status{grpchealth.StatusServing, grpchealth.StatusNotServing, grpchealth.StatusServing})
}

// spuriousWatcher lets the test call a watch's onChange by hand, and counts
// the Checks the handler makes.
type spuriousWatcher struct {
	*grpchealth.StaticChecker
	checks   atomic.Int64
	onChange atomic.Pointer[func()]
}

func (w *spuriousWatcher) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	w.checks.Add(1)
	return w.StaticChecker.Check(ctx, req)
}

func (w *spuriousWatcher) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	w.onChange.Store(&onChange)
	return w.StaticChecker.Watch(ctx, req, onChange)
}

// TestWatchSendsOnlyChanges: a notification that leaves the status as it
// was sends nothing; the next message is the next real change.
func TestWatchSendsOnlyChanges(t *testing.T) {
	t.Parallel()
	for _, n := range []testkit.Network{testkit.HTTP1, testkit.H2C} {
		watcher := &spuriousWatcher{StaticChecker: grpchealth.NewStaticChecker(pingService)}
		var sends atomic.Int64
		mux := http.NewServeMux()
		mux.Handle(grpchealth.NewHandler(watcher, connect.WithInterceptors(streamSendHook(func(any) { sends.Add(1) }))))
		srv := testkit.NewServer(t, mux, n)
		t.Run(n.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			events := grpchealth.NewClient(srv.Client, srv.URL, connect.WithGRPCWeb()).Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
			assert.Equal(t, next(t, events), grpchealth.StatusServing)
			eventually(t, "watch registered", func() bool { return watcher.onChange.Load() != nil })
			for range 5 {
				before := watcher.checks.Load()
				(*watcher.onChange.Load())() // wakes the handler, status unchanged
				eventually(t, "handler re-read the status", func() bool { return watcher.checks.Load() > before })
			}
			watcher.SetStatus(pingService, grpchealth.StatusNotServing)
			assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
			assert.Equal(t, sends.Load(), int64(2))
			cancel()
			for range events {
			}
		})
	}
}

// TestWatchUnimplemented: a Checker that cannot watch answers Unimplemented.
func TestWatchUnimplemented(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, newMux(checkOnly{}), func(t *testing.T, c testkit.Case) {
		events := healthClient(c).Watch(testContext(t), &grpchealth.CheckRequest{})
		ev := <-events
		assert.Code(t, ev.Err, connect.CodeUnimplemented)
		_, err := healthClient(c).List(testContext(t))
		assert.Code(t, err, connect.CodeUnimplemented)
		res, err := healthClient(c).Check(testContext(t), &grpchealth.CheckRequest{})
		assert.NoError(t, err)
		assert.Equal(t, res.Status, grpchealth.StatusNotServing)
	})
}

type checkOnly struct{}

func (checkOnly) Check(context.Context, *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
}

// TestCheckerError: a Checker's error reaches the client with its code.
func TestCheckerError(t *testing.T) {
	t.Parallel()
	testkit.Matrix(t, newMux(failingChecker{}), func(t *testing.T, c testkit.Case) {
		_, err := healthClient(c).Check(testContext(t), &grpchealth.CheckRequest{})
		assert.Code(t, err, connect.CodeUnavailable)
	})
}

type failingChecker struct{}

func (failingChecker) Check(context.Context, *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("db down"))
}

// TestList runs List (gRFC A90) in every protocol over every network.
func TestList(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	checker.SetStatus("down.v1.DownService", grpchealth.StatusNotServing)
	testkit.Matrix(t, newMux(checker), func(t *testing.T, c testkit.Case) {
		got, err := healthClient(c).List(testContext(t))
		assert.NoError(t, err)
		assert.Equal(t, got, map[string]grpchealth.Status{
			"":                    grpchealth.StatusServing,
			pingService:           grpchealth.StatusServing,
			"down.v1.DownService": grpchealth.StatusNotServing,
		})
	})
}

// TestListLimit: List over more than MaxListServices services (the whole
// server counts, as in grpc-go) fails with ResourceExhausted.
func TestListLimit(t *testing.T) {
	t.Parallel()
	var services []string
	for i := range grpchealth.MaxListServices - 1 {
		services = append(services, fmt.Sprintf("svc.v1.S%d", i))
	}
	checker := grpchealth.NewStaticChecker(services...)
	srv := testkit.NewServer(t, newMux(checker), testkit.H2C)
	client := grpchealth.NewClient(srv.Client, srv.URL, connect.WithGRPC())
	got, err := client.List(testContext(t))
	assert.NoError(t, err)
	assert.Equal(t, len(got), grpchealth.MaxListServices)
	checker.SetStatus("svc.v1.OneTooMany", grpchealth.StatusServing)
	_, err = client.List(testContext(t))
	assert.Code(t, err, connect.CodeResourceExhausted)
}

// TestShutdownResume follows grpc-go's drain: Shutdown sets everything
// NOT_SERVING (watchers see it), ignores updates, Resume sets SERVING.
func TestShutdownResume(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	checker.SetStatus("down.v1.DownService", grpchealth.StatusNotServing)
	testkit.Matrix(t, newMux(checker), func(t *testing.T, c testkit.Case) {
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		client := healthClient(c)
		events := client.Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
		assert.Equal(t, next(t, events), grpchealth.StatusServing)

		checker.Shutdown()
		assert.True(t, checker.IsShutdown())
		assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
		checker.SetStatus(pingService, grpchealth.StatusServing) // ignored
		checker.SetStatus("new.v1.New", grpchealth.StatusServing)
		got, err := client.List(ctx)
		assert.NoError(t, err)
		assert.Equal(t, got, map[string]grpchealth.Status{
			"":                    grpchealth.StatusNotServing,
			pingService:           grpchealth.StatusNotServing,
			"down.v1.DownService": grpchealth.StatusNotServing,
		})

		checker.Resume()
		assert.Equal(t, next(t, events), grpchealth.StatusServing)
		got, err = client.List(ctx)
		assert.NoError(t, err)
		assert.Equal(t, got, map[string]grpchealth.Status{
			"":                    grpchealth.StatusServing,
			pingService:           grpchealth.StatusServing,
			"down.v1.DownService": grpchealth.StatusServing,
		})
		checker.SetStatus("down.v1.DownService", grpchealth.StatusNotServing) // applied again
		res, err := client.Check(ctx, &grpchealth.CheckRequest{Service: "down.v1.DownService"})
		assert.NoError(t, err)
		assert.Equal(t, res.Status, grpchealth.StatusNotServing)
		cancel()
		for range events {
		}
	})
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	for s, want := range map[grpchealth.Status]string{
		grpchealth.StatusUnknown:        "unknown",
		grpchealth.StatusServing:        "serving",
		grpchealth.StatusNotServing:     "not_serving",
		grpchealth.StatusServiceUnknown: "service_unknown",
		7:                               "status_7",
	} {
		assert.Equal(t, s.String(), want)
	}
}

// TestCloseEndsWatch: closing the checker ends open Watch streams, each
// after it has the latest status, in every protocol; a Watch opened later
// gets its status and ends. So an HTTP server's graceful Shutdown, which
// waits for open streams, is not held up by watchers.
func TestCloseEndsWatch(t *testing.T) {
	t.Parallel()
	ended := func(t *testing.T, events <-chan grpchealth.WatchEvent) {
		t.Helper()
		select {
		case ev, ok := <-events:
			if ok {
				t.Fatalf("a status after Close: %+v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Watch stream stayed open after Close")
		}
	}
	testkit.Matrix(t, nil, func(t *testing.T, c testkit.Case) {
		t.Parallel()
		checker := grpchealth.NewStaticChecker(pingService)
		srv := testkit.NewServer(t, newMux(checker), c.Network)
		client := grpchealth.NewClient(srv.Client, srv.URL, c.Protocol.ClientOptions()...)
		ctx := testContext(t)
		events := client.Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
		assert.Equal(t, next(t, events), grpchealth.StatusServing)
		checker.Shutdown()
		assert.Equal(t, next(t, events), grpchealth.StatusNotServing)
		assert.NoError(t, checker.Close())
		ended(t, events)
		later := client.Watch(ctx, &grpchealth.CheckRequest{Service: pingService})
		assert.Equal(t, next(t, later), grpchealth.StatusNotServing)
		ended(t, later)
		// The HTTP server now drains at once.
		shutdownCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		assert.NoError(t, srv.HTTPServer().Shutdown(shutdownCtx))
	})
}
