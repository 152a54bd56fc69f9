// Package grpchealth_test measures connectware/grpchealth against
// connectrpc.com/grpchealth v1.5.0 and a bare connect-go handler: Check over
// gRPC on loopback h2c and served directly, and the fan-out of one status
// change to many concurrent watchers.
package grpchealth_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	officialhealth "connectrpc.com/grpchealth"

	"github.com/connectware/connectware/grpchealth"
)

const service = "greet.v1.GreetService"

var watchers = flag.Int("watchers", 10000, "concurrent watchers in BenchmarkWatchFanOut")

var names = []string{"connectware", "official", "bare"}

// bare is the smallest connect-go health handler: Check answers SERVING and
// Watch waits on a broadcast channel; no registry, no protocol rules.
type bare struct {
	mu      sync.Mutex
	status  byte
	changed chan struct{}
}

func newBare() *bare {
	return &bare{status: 1, changed: make(chan struct{})}
}

func (b *bare) set(s byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status = s
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *bare) get() (byte, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status, b.changed
}

func (b *bare) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/grpc.health.v1.Health/Check", connect.NewUnaryHandler("/grpc.health.v1.Health/Check",
		func(_ context.Context, _ *connect.Request[raw]) (*connect.Response[raw], error) {
			status, _ := b.get()
			return connect.NewResponse(&raw{statusMessage(status)}), nil
		}, connect.WithCodec(rawCodec{})))
	mux.Handle("/grpc.health.v1.Health/Watch", connect.NewServerStreamHandler("/grpc.health.v1.Health/Watch",
		func(ctx context.Context, _ *connect.Request[raw], stream *connect.ServerStream[raw]) error {
			for {
				status, changed := b.get()
				if err := stream.Send(&raw{statusMessage(status)}); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-changed:
				}
			}
		}, connect.WithCodec(rawCodec{})))
	return mux
}

// raw is an encoded Protobuf message; rawCodec passes it through, so the
// benchmarks need no generated health types (the official's and ours are
// internal) and every server gets the very same bytes.
type raw struct{ b []byte }

type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(msg any) ([]byte, error) { return msg.(*raw).b, nil }

func (rawCodec) Unmarshal(data []byte, msg any) error {
	msg.(*raw).b = append(msg.(*raw).b[:0], data...)
	return nil
}

// statusMessage encodes HealthCheckResponse{status}: field 1, varint.
func statusMessage(status byte) []byte {
	return statusMessages[status]
}

var statusMessages = [][]byte{{}, {0x08, 1}, {0x08, 2}, {0x08, 3}}

// requestMessage encodes HealthCheckRequest{service}.
func requestMessage(service string) []byte {
	if service == "" {
		return nil
	}
	return append([]byte{0x0a, byte(len(service))}, service...)
}

// subject is one implementation under test: its handler and a way to set
// the service's status.
type subject struct {
	handler http.Handler
	set     func(serving bool)
}

func subjects() map[string]subject {
	ours := grpchealth.NewStaticChecker(service)
	_, oursHandler := grpchealth.NewHandler(ours)
	official := officialhealth.NewStaticChecker(service)
	_, officialHandler := officialhealth.NewHandler(official)
	b := newBare()
	return map[string]subject{
		"connectware": {oursHandler, func(serving bool) {
			ours.SetStatus(service, map[bool]grpchealth.Status{true: grpchealth.StatusServing, false: grpchealth.StatusNotServing}[serving])
		}},
		"official": {officialHandler, func(serving bool) {
			official.SetStatus(service, map[bool]officialhealth.Status{true: officialhealth.StatusServing, false: officialhealth.StatusNotServing}[serving])
		}},
		"bare": {b.handler(), func(serving bool) {
			b.set(map[bool]byte{true: 1, false: 2}[serving])
		}},
	}
}

// BenchmarkCheckGRPC is one Check over gRPC on loopback h2c, with the same
// connect-go client (raw bytes) for every server; allocations are the
// client's and the server's together.
func BenchmarkCheckGRPC(b *testing.B) {
	subs := subjects()
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			url, httpClient := h2cServer(b, subs[name].handler)
			client := connect.NewClient[raw, raw](httpClient, url+"/grpc.health.v1.Health/Check",
				connect.WithGRPC(), connect.WithCodec(rawCodec{}))
			ctx := context.Background()
			req := connect.NewRequest(&raw{requestMessage(service)})
			b.ReportAllocs()
			for b.Loop() {
				res, err := client.CallUnary(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(res.Msg.b, statusMessage(1)) {
					b.Fatal(res.Msg.b)
				}
			}
		})
	}
}

// grpcWriter is a ResponseWriter for in-process gRPC calls that keeps its
// maps between calls.
type grpcWriter struct {
	h    http.Header
	body bytes.Buffer
}

func (w *grpcWriter) Header() http.Header         { return w.h }
func (w *grpcWriter) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *grpcWriter) WriteHeader(int)             {}
func (w *grpcWriter) Flush()                      {}

// h2cServer serves h on a loopback port over h2c and returns its URL and
// a prior-knowledge HTTP/2 client; both are closed when b ends.
func h2cServer(b testing.TB, h http.Handler) (string, *http.Client) {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	b.Cleanup(func() {
		transport.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL, &http.Client{Transport: transport}
}

func grpcRequest(ctx context.Context, procedure string, payload []byte) *http.Request {
	body := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(payload))), payload...)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/grpc.health.v1.Health/"+procedure, bytes.NewReader(body))
	req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	return req
}

// BenchmarkCheckHandler serves one gRPC Check directly (no network): the
// handler's own cost.
func BenchmarkCheckHandler(b *testing.B) {
	subs := subjects()
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			h := subs[name].handler
			payload := requestMessage(service)
			req := grpcRequest(context.Background(), "Check", payload)
			body := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(payload))), payload...)
			reader := bytes.NewReader(body)
			w := &grpcWriter{h: make(http.Header, 8)}
			b.ReportAllocs()
			for b.Loop() {
				reader.Reset(body)
				req.Body = readCloser{reader}
				clear(w.h)
				w.body.Reset()
				h.ServeHTTP(w, req)
				if status := w.h.Get(http.TrailerPrefix + "Grpc-Status"); status != "0" {
					b.Fatalf("grpc-status %q: %s", status, w.h)
				}
			}
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// watchWriter is the ResponseWriter of one in-process Watch: it reports
// each status message it is sent.
type watchWriter struct {
	h      http.Header
	onSend func(status byte)
}

func (w *watchWriter) Header() http.Header { return w.h }
func (w *watchWriter) WriteHeader(int)     {}
func (w *watchWriter) Flush()              {}
func (w *watchWriter) Write(p []byte) (int, error) {
	// connect-go writes the envelope's prefix, then the message: a
	// HealthCheckResponse is field 1 (0x08) and the status varint.
	if len(p) == 2 && p[0] == 0x08 {
		w.onSend(p[1])
	}
	return len(p), nil
}

// BenchmarkWatchFanOut starts -watchers concurrent Watch streams on one
// service (served in process, gRPC protocol), then times one status change
// reaching every watcher. It reports the memory each idle watcher holds
// (heap and stack) as B/watcher.
func BenchmarkWatchFanOut(b *testing.B) {
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			sub := subjects()[name]
			n := *watchers
			var remaining atomic.Int64
			allSeen := make(chan struct{}, 1)
			onSend := func(byte) {
				if remaining.Add(-1) == 0 {
					allSeen <- struct{}{}
				}
			}
			before := inUse()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			remaining.Store(int64(n))
			for range n {
				req := grpcRequest(ctx, "Watch", requestMessage(service))
				w := &watchWriter{h: make(http.Header), onSend: onSend}
				wg.Go(func() { sub.handler.ServeHTTP(w, req) })
			}
			wait(b, allSeen) // every watcher has its first status
			perWatcher := float64(inUse()-before) / float64(n)
			serving := true
			b.ReportAllocs()
			for b.Loop() {
				serving = !serving
				remaining.Store(int64(n))
				sub.set(serving)
				wait(b, allSeen)
			}
			b.StopTimer()
			b.ReportMetric(perWatcher, "B/watcher")
			cancel()
			wg.Wait()
		})
	}
}

func wait(b *testing.B, ch chan struct{}) {
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		b.Fatal("watchers never all got the status")
	}
}

func inUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// TestCheckAllocs holds the promise that a gRPC Check costs at most
// the official handler's allocations. It counts them on the in-process path
// of BenchmarkCheckHandler, where the counts do not depend on the network.
func TestCheckAllocs(t *testing.T) {
	subs := subjects()
	allocs := map[string]float64{}
	for _, name := range []string{"connectware", "official"} {
		h := subs[name].handler
		payload := requestMessage(service)
		req := grpcRequest(context.Background(), "Check", payload)
		body := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(payload))), payload...)
		reader := bytes.NewReader(body)
		w := &grpcWriter{h: make(http.Header, 8)}
		allocs[name] = testing.AllocsPerRun(1000, func() {
			reader.Reset(body)
			req.Body = readCloser{reader}
			clear(w.h)
			w.body.Reset()
			h.ServeHTTP(w, req)
			if status := w.h.Get(http.TrailerPrefix + "Grpc-Status"); status != "0" {
				t.Fatalf("%s: grpc-status %q", name, status)
			}
		})
	}
	t.Logf("allocations per Check: %v", allocs)
	if allocs["connectware"] > allocs["official"] {
		t.Errorf("connectware allocates %v per Check, official %v", allocs["connectware"], allocs["official"])
	}
}
