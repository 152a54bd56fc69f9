// Package ratelimit limits the rate of Connect, gRPC and gRPC-Web calls with
// keyed token buckets.
//
// A [Limiter] decides, for a key and a cost, whether a call may proceed and
// what to tell the client: [Local] keeps one golang.org/x/time/rate bucket
// per key in bounded memory; the ratelimit/redis sub-package shares buckets
// across replicas. A [Key] says what a bucket belongs to: the client address
// ([KeyIP], reading forwarding headers only from trusted proxies), the
// authenticated identity ([KeyIdentity]), the procedure, a header, or a
// combination ([KeyJoin], [KeyFirst]); [KeyFunc] makes any function a key.
// Header and identity keys are read in place: a handler decision with them
// and a [Local] limiter neither allocates nor copies the key.
//
// Limits apply in one of two places. [Middleware] wraps an http.Handler and
// rejects before connect-go reads the request body; [Interceptor] limits
// handlers (unary calls, streams when they open and, optionally, each stream
// message) and smooths clients' outgoing calls. Rejections are
// ResourceExhausted in the caller's protocol (HTTP 429 for Connect) with
// Retry-After, a google.rpc.RetryInfo detail and the IETF RateLimit and
// RateLimit-Policy headers.
//
// Limit each authenticated client to 10 calls per second, bursts of 20,
// after authn's middleware has accepted the request:
//
//	limiter := ratelimit.NewLocal(ratelimit.Policy{Limit: 10, Burst: 20})
//	limit := ratelimit.NewMiddleware(limiter, ratelimit.WithKey(ratelimit.KeyIdentity()))
//	handler := authMiddleware.Wrap(limit.Wrap(mux))
package ratelimit
