package authn_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

// TestWireSlowUploadRejectedBeforeBody starts an unauthenticated upload
// announced as large, sends a first chunk and then stalls the writer. The
// rejection must arrive while the writer is still blocked: the middleware
// answers before connect-go reads the body, and net/http must not wait for
// the rest of it (over HTTP/1.1 it would otherwise try to drain the body).
func TestWireSlowUploadRejectedBeforeBody(t *testing.T) {
	t.Parallel()
	type tc struct {
		network     testkit.Network
		contentType string
		length      int64 // -1: unknown, chunked on HTTP/1.1
		wantStatus  int
	}
	cases := []tc{
		{testkit.HTTP1, "application/proto", -1, http.StatusUnauthorized},
		{testkit.HTTP1, "application/proto", 1 << 30, http.StatusUnauthorized},
		{testkit.HTTP1, "application/connect+proto", -1, http.StatusOK},
		{testkit.HTTP1, "application/grpc-web+proto", -1, http.StatusOK},
		{testkit.H2C, "application/proto", -1, http.StatusUnauthorized},
		{testkit.H2C, "application/proto", 1 << 30, http.StatusUnauthorized},
		{testkit.H2C, "application/grpc", -1, http.StatusOK},
		{testkit.H2C, "application/grpc-web+proto", -1, http.StatusOK},
	}
	f := newFixture(authn.BearerTokens(map[string]any{goodToken: wantUser}))
	for _, c := range cases {
		name := c.network.String() + "/" + c.contentType + "/length_" + strconv.FormatInt(c.length, 10)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, f.handler, c.network)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			release := make(chan struct{})
			var written atomic.Int64
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				n, err := pw.Write(make([]byte, 16<<10))
				written.Add(int64(n))
				if err != nil {
					return
				}
				<-release // stall: the rest of the upload never comes
				_ = pw.CloseWithError(io.ErrUnexpectedEOF)
			}()
			defer func() { close(release); _ = pr.Close(); <-writerDone }()
			// A hang guard, not a timing assertion: if no response comes, end
			// the upload so the client returns and the test fails.
			stop := context.AfterFunc(ctx, func() { _ = pw.CloseWithError(io.ErrClosedPipe) })
			defer stop()

			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+testv1connect.TestServiceSumProcedure, pr)
			assert.NoError(t, err)
			req.ContentLength = c.length
			req.Header.Set("Content-Type", c.contentType)
			res, err := srv.Client.Do(req)
			assert.NoError(t, err, "no response while the upload stalls")
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, res.Body)
			select {
			case <-writerDone:
				t.Fatal("the writer finished before the response arrived")
			default:
			}
			assert.Equal(t, res.StatusCode, c.wantStatus)
			grpcStatus := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status")
			if c.wantStatus == http.StatusOK && c.contentType != "application/connect+proto" {
				assert.Equal(t, grpcStatus, "16")
			}
			assert.Equal(t, res.Header.Get("Www-Authenticate"), `Bearer realm="api"`)
			assert.True(t, written.Load() < c.length || c.length < 0)
		})
	}
	t.Cleanup(func() { assert.Equal(t, f.calls.Load(), int64(0), "handler ran") })
}
