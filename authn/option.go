package authn

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
)

// An Option configures a [Middleware] built with [New].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// AuthorizeFunc decides whether the identity info, returned by the
// [AuthFunc], may call procedure (such as "/acme.foo.v1.FooService/Bar"; it
// is empty for requests that are not RPCs). A nil error allows the call. A
// [*connect.Error] is sent as it is; any other error is sent with
// [connect.CodePermissionDenied] (HTTP 403 in the Connect protocol).
type AuthorizeFunc func(ctx context.Context, info any, procedure string) error

// NonRPCPolicy says what the middleware does with requests that are not
// Connect, gRPC or gRPC-Web calls (see [InferProtocol]), such as GET
// /healthz or static files.
type NonRPCPolicy int

const (
	// NonRPCAuthenticate runs the AuthFunc on non-RPC requests as on RPCs,
	// which is what connectrpc.com/authn does. It is the default.
	NonRPCAuthenticate NonRPCPolicy = iota
	// NonRPCAllow passes non-RPC requests to the next handler without
	// authenticating them (and without an identity in their context).
	NonRPCAllow
	// NonRPCDeny answers non-RPC requests with a plain 404 Not Found.
	NonRPCDeny
)

type config struct {
	handlerOptions []connect.HandlerOption
	public         publicSet
	authorize      AuthorizeFunc
	nonRPC         NonRPCPolicy
	authPreflight  bool
	challenge      string
}

// WithHandlerOptions sets the connect.HandlerOptions given to the
// connect.ErrorWriter that writes rejections. Pass the same codec and
// compression options as the handlers get, as with [NewMiddleware].
func WithHandlerOptions(opts ...connect.HandlerOption) Option {
	return optionFunc(func(c *config) { c.handlerOptions = append(c.handlerOptions, opts...) })
}

// WithPublicProcedures lets calls of the named procedures (full names such as
// "/grpc.health.v1.Health/Check") through without credentials. Their context
// carries no identity. The procedure is taken from the last two segments of
// the URL path, as [InferProcedure] does.
func WithPublicProcedures(procedures ...string) Option {
	return optionFunc(func(c *config) {
		for _, p := range procedures {
			c.public.addProcedure(p)
		}
	})
}

// WithPublicServices lets calls of every method of the named services
// through without credentials. A name is a fully-qualified service such as
// "grpc.health.v1.Health", or a package prefix ending in ".*" such as
// "grpc.reflection.*", which matches every service whose name starts with
// "grpc.reflection." (v1 and v1alpha reflection alike).
func WithPublicServices(services ...string) Option {
	return optionFunc(func(c *config) {
		for _, s := range services {
			c.public.addService(s)
		}
	})
}

// WithAuthorization runs authorize after each successful authentication,
// with the identity and the procedure. When it returns an error the call is
// rejected (with [connect.CodePermissionDenied] unless the error is a
// [*connect.Error] with another code) and the handler never runs.
func WithAuthorization(authorize AuthorizeFunc) Option {
	return optionFunc(func(c *config) { c.authorize = authorize })
}

// WithNonRPC sets the policy for requests that are not RPCs. The default is
// [NonRPCAuthenticate].
func WithNonRPC(policy NonRPCPolicy) Option {
	return optionFunc(func(c *config) { c.nonRPC = policy })
}

// WithPreflightAuthentication makes the middleware authenticate CORS
// preflight requests like any other request, as connectrpc.com/authn does.
// By default a preflight (an OPTIONS request with Origin and
// Access-Control-Request-Method headers) goes to the next handler untouched,
// since browsers never send credentials on preflights. A preflight passed
// through carries no identity, and connect-go handlers never serve an RPC for
// an OPTIONS request, so this cannot authenticate a real call.
func WithPreflightAuthentication() Option {
	return optionFunc(func(c *config) { c.authPreflight = true })
}

// WithChallenge sets the WWW-Authenticate challenge sent with every
// Unauthenticated rejection whose error does not carry one, such as
// `Bearer realm="api"`. The validators in this package set their own
// challenges (RFC 6750 for bearer tokens, RFC 7617 for Basic).
func WithChallenge(challenge string) Option {
	return optionFunc(func(c *config) { c.challenge = challenge })
}

// publicSet is the set of procedures that need no credentials.
type publicSet struct {
	procedures map[string]struct{}
	services   map[string]struct{}
	prefixes   []string
}

func (p *publicSet) addProcedure(procedure string) {
	if p.procedures == nil {
		p.procedures = make(map[string]struct{})
	}
	if !strings.HasPrefix(procedure, "/") {
		procedure = "/" + procedure
	}
	p.procedures[procedure] = struct{}{}
}

func (p *publicSet) addService(service string) {
	service = strings.Trim(service, "/")
	if prefix, ok := strings.CutSuffix(service, "*"); ok {
		p.prefixes = append(p.prefixes, prefix)
		return
	}
	if p.services == nil {
		p.services = make(map[string]struct{})
	}
	p.services[service] = struct{}{}
}

func (p *publicSet) empty() bool {
	return len(p.procedures) == 0 && len(p.services) == 0 && len(p.prefixes) == 0
}

// match reports whether procedure ("/service/method") needs no credentials.
func (p *publicSet) match(procedure string) bool {
	if _, ok := p.procedures[procedure]; ok {
		return true
	}
	slash := strings.LastIndexByte(procedure, '/')
	if slash <= 0 {
		return false
	}
	service := procedure[1:slash]
	if _, ok := p.services[service]; ok {
		return true
	}
	for _, prefix := range p.prefixes {
		if strings.HasPrefix(service, prefix) && len(service) > len(prefix) {
			return true
		}
	}
	return false
}

// errWrongIdentity is the PermissionDenied cause when an identity has an
// unexpected type.
var errWrongIdentity = errors.New("permission denied")

// AuthorizeAs adapts an authorization function over a typed identity to an
// [AuthorizeFunc]. An identity that is not a T (including none) is denied
// with [connect.CodePermissionDenied] without calling authorize.
func AuthorizeAs[T any](authorize func(ctx context.Context, info T, procedure string) error) AuthorizeFunc {
	return func(ctx context.Context, info any, procedure string) error {
		typed, ok := info.(T)
		if !ok {
			return connect.NewError(connect.CodePermissionDenied, errWrongIdentity)
		}
		return authorize(ctx, typed, procedure)
	}
}
