package ratelimit_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/ratelimit"
)

// TestQuickPathMatchesFullPath runs the same calls with a header key, which
// handlers decide on the quick path (no Call, no key copy), and with the
// same key behind a KeyFunc, which takes the full path: every call, the
// rejection's details, the hook and the counts must be the same both ways,
// on the middleware, the handler interceptor and the client interceptor
// (failing at once, WithClientNoWait), for every protocol and RPC kind.
func TestQuickPathMatchesFullPath(t *testing.T) {
	t.Parallel()
	type result struct {
		stats   ratelimit.Stats
		rejects int64
	}
	results := map[string]result{}
	placements := []string{"middleware", "interceptor", "client"}
	for _, variant := range []struct {
		name string
		key  ratelimit.Key
	}{
		{"quick", ratelimit.KeyHeader(caseHeader)},
		{"full", ratelimit.KeyFunc(ratelimit.KeyHeader(caseHeader).AppendKey)},
	} {
		for _, placement := range placements {
			var rejects atomic.Int64
			opts := []ratelimit.Option{
				ratelimit.WithKey(variant.key),
				ratelimit.WithOnReject(func(_ context.Context, call *ratelimit.Call, _ ratelimit.Decision) {
					rejects.Add(1)
				}),
			}
			var h http.Handler
			var stats func() ratelimit.Stats
			var clientOpts []connect.ClientOption
			switch placement {
			case "middleware":
				mw := ratelimit.NewMiddleware(ratelimit.NewLocal(slow), opts...)
				h, stats = mw.Wrap(testkit.NewMux(&testkit.PingServer{})), mw.Stats
			case "interceptor":
				ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), opts...)
				h, stats = testkit.NewMux(&testkit.PingServer{}, connect.WithInterceptors(ic)), ic.Stats
			default: // client
				ic := ratelimit.NewInterceptor(ratelimit.NewLocal(slow), append(opts, ratelimit.WithClientNoWait())...)
				h, stats = testkit.NewMux(&testkit.PingServer{}), ic.Stats
				clientOpts = []connect.ClientOption{connect.WithInterceptors(ic)}
			}
			t.Run(placement+"/"+variant.name, func(t *testing.T) {
				testkit.Matrix(t, h, func(t *testing.T, c testkit.Case) {
					for _, st := range testkit.StreamTypes() {
						if !testkit.SupportsStream(c.Network, st) {
							continue
						}
						t.Run(testkit.StreamTypeName(st), func(t *testing.T) {
							header := http.Header{caseHeader: {c.Name() + "/" + testkit.StreamTypeName(st)}}
							client := c.Client(clientOpts...)
							_, _, err := testkit.Call(callTimeout(t), client, st, header)
							assert.NoError(t, err, "first call is within the burst")
							_, _, err = testkit.Call(callTimeout(t), client, st, header)
							if placement == "client" {
								// Failed locally: the RetryInfo detail, no response headers.
								assert.Code(t, err, connect.CodeResourceExhausted)
								delay, ok := ratelimit.RetryDelay(err)
								assert.True(t, ok && delay == time.Hour, "RetryInfo detail")
							} else {
								checkRejection(t, err)
							}
							// Without the header the call has no key: not limited.
							_, _, err = testkit.Call(callTimeout(t), client, st, nil)
							assert.NoError(t, err, "no key, no limit")
						})
					}
				})
			})
			results[placement+"/"+variant.name] = result{stats(), rejects.Load()}
		}
	}
	for _, placement := range placements {
		quick, full := results[placement+"/quick"], results[placement+"/full"]
		assert.True(t, quick.stats.Allowed > 0 && quick.stats.Rejected > 0, placement+": calls were decided")
		assert.Equal(t, quick.stats, full.stats, placement+": counts")
		assert.Equal(t, quick.rejects, full.rejects, placement+": hook calls")
		assert.Equal(t, quick.rejects, int64(quick.stats.Rejected), placement+": one hook call per rejection")
	}
}
