package ratelimit_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// wireSpy records, per value of caseHeader, how the server's response went
// on the wire: the header section as it was when the status was written,
// the HTTP trailers, and the body (where gRPC-Web and Connect streaming
// put their trailers).
type wireSpy struct {
	next    http.Handler
	mu      sync.Mutex
	records map[string]*wireRecord
}

type wireRecord struct {
	header   http.Header
	trailers http.Header
	body     bytes.Buffer
}

func newWireSpy(next http.Handler) *wireSpy {
	return &wireSpy{next: next, records: map[string]*wireRecord{}}
}

func (s *wireSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &wireRecord{}
	sw := &spyWriter{ResponseWriter: w, rec: rec}
	s.next.ServeHTTP(sw, r)
	sw.writeHeader()
	// Trailers are the keys declared in "Trailer", those with
	// http.TrailerPrefix, and those added after the header was sent.
	rec.trailers = http.Header{}
	declared := map[string]bool{}
	for _, v := range rec.header.Values("Trailer") {
		for _, k := range strings.Split(v, ",") {
			declared[http.CanonicalHeaderKey(strings.TrimSpace(k))] = true
		}
	}
	for k, vs := range w.Header() {
		name, prefixed := strings.CutPrefix(k, http.TrailerPrefix)
		if _, sent := rec.header[k]; prefixed || declared[k] || !sent {
			rec.trailers[http.CanonicalHeaderKey(name)] = vs
		}
	}
	s.mu.Lock()
	s.records[r.Header.Get(caseHeader)] = rec
	s.mu.Unlock()
}

func (s *wireSpy) record(t *testing.T, key string) *wireRecord {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[key]
	assert.True(t, ok, "no response recorded for "+key)
	return rec
}

type spyWriter struct {
	http.ResponseWriter
	rec   *wireRecord
	wrote bool
}

func (w *spyWriter) writeHeader() {
	if !w.wrote {
		w.wrote = true
		w.rec.header = w.Header().Clone()
	}
}

func (w *spyWriter) WriteHeader(code int) {
	w.writeHeader()
	w.ResponseWriter.WriteHeader(code)
}

func (w *spyWriter) Write(b []byte) (int, error) {
	w.writeHeader()
	w.rec.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *spyWriter) Flush() {
	w.writeHeader()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *spyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkOnTheWire asserts that the RateLimit and RateLimit-Policy fields
// (and, on rejections, Retry-After) went out in the response's header
// section and nowhere else: the httpapi draft forbids them in trailers.
func checkOnTheWire(t *testing.T, rec *wireRecord, rejected bool) {
	t.Helper()
	names := []string{"RateLimit", "RateLimit-Policy"}
	if rejected {
		names = append(names, "Retry-After")
	}
	for _, name := range names {
		assert.True(t, rec.header.Get(name) != "", name+" in the header section")
		assert.Equal(t, rec.trailers.Get(name), "", name+" not in trailers")
	}
	assert.True(t, !bytes.Contains(bytes.ToLower(rec.body.Bytes()), []byte("ratelimit")), "no RateLimit field in the body: "+rec.body.String())
}

// TestRateLimitFieldsInHeaderSection runs both placements over the protocol
// matrix and checks where the rate-limit fields travel: in the header
// section, never in gRPC's HTTP trailers nor in the trailers gRPC-Web and
// Connect streaming carry in the body. It also checks that a rejected call
// never reaches the handler, whatever its kind: streams are limited when
// they open.
func TestRateLimitFieldsInHeaderSection(t *testing.T) {
	t.Parallel()
	for _, placement := range []string{"middleware", "interceptor"} {
		t.Run(placement, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			entered := map[string]int{}
			svc := &testkit.PingServer{OnCall: func(ctx context.Context, _ string) error {
				info, ok := connect.CallInfoForHandlerContext(ctx)
				assert.True(t, ok)
				mu.Lock()
				entered[info.RequestHeader().Get(caseHeader)]++
				mu.Unlock()
				return nil
			}}
			opts := []ratelimit.Option{ratelimit.WithKey(caseKey())}
			var h http.Handler
			if placement == "middleware" {
				h = ratelimit.NewMiddleware(ratelimit.NewLocal(slow), opts...).Wrap(testkit.NewMux(svc))
			} else {
				h = testkit.NewMux(svc, connect.WithInterceptors(ratelimit.NewInterceptor(ratelimit.NewLocal(slow), opts...)))
			}
			spy := newWireSpy(h)
			testkit.Matrix(t, spy, func(t *testing.T, c testkit.Case) {
				for _, st := range testkit.StreamTypes() {
					if !testkit.SupportsStream(c.Network, st) {
						continue
					}
					t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
						header := http.Header{caseHeader: {t.Name()}}
						_, _, err := testkit.Call(callTimeout(t), c.Client(), st, header)
						assert.NoError(t, err)
						_, _, err = testkit.Call(callTimeout(t), c.Client(), st, header)
						checkRejection(t, err)
						checkOnTheWire(t, spy.record(t, t.Name()), true)
						mu.Lock()
						defer mu.Unlock()
						assert.Equal(t, entered[t.Name()], 1, "the rejected call never reached the handler")
					})
				}
			})
		})
	}
}

// TestAllowedRateLimitFieldsInHeaderSection: with WithAllowedHeaders the
// fields go out in the header section of allowed calls too, including
// allowed calls whose handler then fails.
func TestAllowedRateLimitFieldsInHeaderSection(t *testing.T) {
	t.Parallel()
	policy := ratelimit.Policy{Limit: rate.Every(time.Hour), Burst: 10}
	var fail atomic.Bool
	svc := &testkit.PingServer{OnCall: func(context.Context, string) error {
		if fail.Load() {
			return connect.NewError(connect.CodeAborted, nil)
		}
		return nil
	}}
	for _, placement := range []string{"middleware", "interceptor"} {
		opts := []ratelimit.Option{ratelimit.WithKey(caseKey()), ratelimit.WithAllowedHeaders()}
		var h http.Handler
		if placement == "middleware" {
			h = ratelimit.NewMiddleware(ratelimit.NewLocal(policy), opts...).Wrap(testkit.NewMux(svc))
		} else {
			h = testkit.NewMux(svc, connect.WithInterceptors(ratelimit.NewInterceptor(ratelimit.NewLocal(policy), opts...)))
		}
		spy := newWireSpy(h)
		t.Run(placement, func(t *testing.T) {
			testkit.Matrix(t, spy, func(t *testing.T, c testkit.Case) {
				for _, st := range testkit.StreamTypes() {
					if !testkit.SupportsStream(c.Network, st) {
						continue
					}
					t.Run(testkit.StreamTypeName(st)+"/handler", func(t *testing.T) {
						header := http.Header{caseHeader: {t.Name()}}
						fail.Store(false)
						_, _, err := testkit.Call(callTimeout(t), c.Client(), st, header)
						assert.NoError(t, err)
						checkOnTheWire(t, spy.record(t, t.Name()), false)
						fail.Store(true)
						_, _, err = testkit.Call(callTimeout(t), c.Client(), st, header)
						assert.Code(t, err, connect.CodeAborted)
						checkOnTheWire(t, spy.record(t, t.Name()), false)
					})
				}
			})
		})
	}
}
