package ratelimit

import (
	"net/http"
	"strconv"

	"connectrpc.com/connect"
)

// Middleware is net/http middleware that rate-limits requests before
// connect-go reads, decompresses or unmarshals their bodies, so rejected
// requests cost almost nothing: their bodies are never read. (Over
// HTTP/1.x a rejected request that has a body also closes its connection,
// since net/http would otherwise read the body to reuse the connection.)
// Rejections are ResourceExhausted errors in the caller's protocol (HTTP
// 429 for the Connect protocol), written with connect.ErrorWriter, with
// Retry-After, RateLimit and RateLimit-Policy headers and a
// google.rpc.RetryInfo error detail. Requests that are not RPCs get a plain
// 429.
//
// The procedure is the URL path; the middleware cannot know the stream type,
// so calls are described as unary. Use an [Interceptor] to limit stream
// messages.
type Middleware struct {
	g           *guard
	errorWriter *connect.ErrorWriter
}

// NewMiddleware returns middleware that limits every request with limiter
// (unless [WithProcedureLimiter] says otherwise; a nil limiter limits only
// the procedures given that way).
func NewMiddleware(limiter Limiter, opts ...Option) *Middleware {
	return &Middleware{g: newGuard(limiter, opts), errorWriter: connect.NewErrorWriter()}
}

// Stats returns the counts of the middleware's decisions so far.
func (m *Middleware) Stats() Stats { return m.g.stats() }

// Wrap returns a handler that limits requests before passing them to next.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := m.g
		lim := g.limiterFor(r.URL.Path)
		if lim == nil {
			next.ServeHTTP(w, r)
			return
		}
		_, at, ok := g.quick(r.Context(), r.Header, lim)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		s := g.get()
		s.at = at
		s.call = Call{
			Context:    r.Context(),
			Procedure:  r.URL.Path,
			StreamType: connect.StreamTypeUnary,
			peer:       r.RemoteAddr,
			Header:     r.Header,
		}
		out := g.decide(s, lim, g.cost(&s.call))
		d := s.d
		g.put(s)
		switch out {
		case outcomeUnlimited:
		case outcomeAllowed:
			if g.cfg.allowedHeaders {
				setHeaders(w.Header(), d, false)
			}
		default:
			m.reject(w, r, d, out)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, d Decision, out outcome) {
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		// Over HTTP/1.x, net/http reads up to 256 KiB of a body the handler
		// left unread before it writes the response, so the connection can
		// carry the next request. Closing it instead answers at once and
		// reads nothing.
		w.Header().Set("Connection", "close")
	}
	if out == outcomeRejected {
		setHeaders(w.Header(), d, true)
	} else if d.RetryAfter > 0 {
		w.Header().Set(HeaderRetryAfter, strconv.FormatInt(RetryAfterSeconds(d), 10))
	}
	err := rejection(d, out)
	if !m.errorWriter.IsSupported(r) {
		status := http.StatusTooManyRequests
		if out == outcomeUnavailable {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, err.Message(), status)
		return
	}
	_ = m.errorWriter.Write(w, r, err)
}
