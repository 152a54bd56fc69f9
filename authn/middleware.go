package authn

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// AuthFunc authenticates a request before connect-go reads, decompresses or
// unmarshals anything. It returns the caller's identity (any value; nil
// means no identity is stored) or an error, ideally one built with [Errorf].
// It must not read the request body.
//
// An AuthFunc runs once per HTTP request, so once per call of every RPC kind.
type AuthFunc func(ctx context.Context, req *http.Request) (any, error)

// Middleware is net/http middleware that authenticates each request with an
// [AuthFunc] and rejects failures in the caller's RPC protocol. It is safe
// for concurrent use; its configuration is fixed at construction.
type Middleware struct {
	auth             AuthFunc
	config           config
	errorWriter      *connect.ErrorWriter
	defaultChallenge []string // nil when there is none
}

// NewMiddleware returns a [Middleware] that authenticates with auth. opts
// configure the connect.ErrorWriter that writes rejections: pass the same
// codec and compression options as the handlers get.
//
// NewMiddleware is the constructor of connectrpc.com/authn. It applies this
// package's defaults (CORS preflights pass through untouched, non-RPC
// requests are authenticated); use [New] for the other options.
func NewMiddleware(auth AuthFunc, opts ...connect.HandlerOption) *Middleware {
	return New(auth, WithHandlerOptions(opts...))
}

// New returns a [Middleware] that authenticates with auth and is configured
// by opts, such as [WithPublicServices], [WithAuthorization], [WithNonRPC]
// and [WithHandlerOptions]. A nil auth rejects every request that needs
// credentials.
func New(auth AuthFunc, opts ...Option) *Middleware {
	m := &Middleware{auth: auth}
	for _, opt := range opts {
		opt.apply(&m.config)
	}
	if m.auth == nil {
		m.auth = func(context.Context, *http.Request) (any, error) {
			return nil, errInvalid(m.config.challenge)
		}
	}
	m.errorWriter = connect.NewErrorWriter(m.config.handlerOptions...)
	if m.config.challenge != "" {
		m.defaultChallenge = []string{m.config.challenge}
	}
	return m
}

// Wrap returns handler behind authentication: requests that fail it are
// answered with an RPC error and never reach handler; the others reach it
// with their identity in the context (see [GetInfo] and [InfoAs]).
func (m *Middleware) Wrap(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, handler)
	})
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	route, procedure := m.config.route(r)
	switch route {
	case routePass:
		next.ServeHTTP(w, r)
		return
	case routeNotFound:
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	info, err := m.auth(ctx, r)
	if err != nil {
		m.reject(w, r, asUnauthenticated(err))
		return
	}
	if m.config.authorize != nil {
		if procedure == "" {
			// Not named by route: name it if the request is an RPC.
			if _, isRPC := InferProtocol(r); isRPC {
				if p, ok := InferProcedure(r.URL); ok {
					procedure = p
				}
			}
		}
		if err := m.config.authorize(ctx, info, procedure); err != nil {
			m.reject(w, r, asPermissionDenied(err))
			return
		}
	}
	if info != nil {
		r = r.WithContext(SetInfo(ctx, info))
	}
	next.ServeHTTP(w, r)
}

// reject writes err in the request's protocol.
func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, err error) {
	header := w.Header()
	if challenge := challengeOf(err, m.defaultChallenge); challenge != nil {
		header["Www-Authenticate"] = challenge
	}
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		// Without this, net/http reads up to 256 KiB of an unread
		// HTTP/1.x body before sending the response, which stalls a slow
		// upload's rejection. Closing the connection answers at once.
		header["Connection"] = []string{"close"}
	}
	_ = m.errorWriter.Write(w, r, err)
}

// route is what the middleware does with a request before authenticating.
type route int

const (
	routeAuthenticate route = iota
	routePass
	routeNotFound
)

// route decides, from the request line and headers alone, whether r needs
// authentication, and names its procedure.
func (c *config) route(r *http.Request) (route, string) {
	if !c.authPreflight && isPreflight(r) {
		return routePass, ""
	}
	if c.nonRPC == NonRPCAuthenticate && c.public.empty() {
		// Every request is authenticated alike, RPC or not: nothing to
		// tell apart. The procedure is only read if an authorization hook
		// needs it (see serve).
		return routeAuthenticate, ""
	}
	if _, isRPC := InferProtocol(r); !isRPC {
		switch c.nonRPC {
		case NonRPCAllow:
			return routePass, ""
		case NonRPCDeny:
			return routeNotFound, ""
		}
		return routeAuthenticate, "" // not an RPC: no procedure
	}
	procedure, ok := InferProcedure(r.URL)
	if !ok {
		return routeAuthenticate, "" // an RPC to no procedure: none to name
	}
	if !c.public.empty() && c.public.match(procedure) {
		return routePass, procedure
	}
	return routeAuthenticate, procedure
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions &&
		headerValue(r.Header, "Origin") != "" &&
		headerValue(r.Header, "Access-Control-Request-Method") != ""
}
