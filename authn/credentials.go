package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// TokenSource supplies tokens for outgoing calls. Token returns a token and
// the time it expires (the zero time means never). [TokenFunc] implements
// it, and [OAuth2] adapts an oauth2.TokenSource.
type TokenSource interface {
	Token(ctx context.Context) (token string, expiry time.Time, err error)
}

// TokenFunc is a function that implements [TokenSource].
type TokenFunc func(ctx context.Context) (token string, expiry time.Time, err error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, time.Time, error) { return f(ctx) }

// OAuth2 adapts an oauth2.TokenSource from golang.org/x/oauth2 (such as
// the one clientcredentials.Config.TokenSource returns) to a [TokenSource],
// without this package depending on golang.org/x/oauth2:
//
//	creds := authn.NewCredentials(authn.OAuth2(conf.TokenSource(ctx)))
//
// T is inferred: for an oauth2.TokenSource it is *oauth2.Token, whose
// AccessToken and Expiry fields are read after each call of source.Token.
// Any T that is a struct, or a pointer to one, with a string field
// AccessToken and a time.Time field Expiry works the same way; for any other
// T, and for a nil token, the returned source fails with an error. The token
// is sent with the [Credentials]' prefix ("Bearer " by default), as
// oauth2.Transport sends bearer tokens. oauth2.TokenSource takes no context,
// so the call's context is not passed on.
//
// The oauth2 sources from Config.TokenSource already cache their token and
// renew it 10 seconds before it expires; the Credentials ask them again from
// [WithRefreshBefore] before expiry. While a source hands back the same
// token, each answer moves the next question halfway to the token's expiry,
// so a cached token costs a few cheap calls, not one per RPC.
func OAuth2[T any](source interface{ Token() (T, error) }) TokenSource {
	accessIndex, expiryIndex, err := oauth2Fields(reflect.TypeFor[T]())
	return TokenFunc(func(context.Context) (string, time.Time, error) {
		if err != nil {
			return "", time.Time{}, err
		}
		token, err := source.Token()
		if err != nil {
			return "", time.Time{}, err
		}
		v := reflect.ValueOf(token)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return "", time.Time{}, errNoToken
			}
			v = v.Elem()
		}
		// Fields promoted through an embedded pointer are unreachable
		// when it is nil.
		ev, errExpiry := v.FieldByIndexErr(expiryIndex)
		av, errAccess := v.FieldByIndexErr(accessIndex)
		if errExpiry != nil || errAccess != nil {
			return "", time.Time{}, errNoToken
		}
		expiry, _ := ev.Interface().(time.Time)
		return av.String(), expiry, nil
	})
}

// oauth2Fields finds the AccessToken and Expiry fields of an
// oauth2.Token-shaped type.
func oauth2Fields(typ reflect.Type) (accessIndex, expiryIndex []int, err error) {
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() == reflect.Struct {
		access, okAccess := typ.FieldByName("AccessToken")
		expiry, okExpiry := typ.FieldByName("Expiry")
		if okAccess && okExpiry && access.IsExported() && access.Type.Kind() == reflect.String &&
			expiry.IsExported() && expiry.Type == reflect.TypeFor[time.Time]() {
			return access.Index, expiry.Index, nil
		}
	}
	return nil, nil, fmt.Errorf("authn: OAuth2: %v has no AccessToken string and Expiry time.Time fields", typ)
}

// A CredentialsOption configures [Credentials].
type CredentialsOption interface {
	applyCredentials(*Credentials)
}

type credentialsOptionFunc func(*Credentials)

func (f credentialsOptionFunc) applyCredentials(c *Credentials) { f(c) }

// WithTokenHeader sends the token in header, after prefix, instead of
// "Authorization: Bearer <token>". For an API key use
// WithTokenHeader("X-API-Key", "").
func WithTokenHeader(header, prefix string) CredentialsOption {
	return credentialsOptionFunc(func(c *Credentials) {
		c.header = http.CanonicalHeaderKey(header)
		c.prefix = prefix
	})
}

// WithRefreshBefore sets how long before its expiry a token is refreshed.
// The default is one minute. A token that lives less than twice as long is
// refreshed halfway through its life instead, so that short-lived tokens
// are not fetched again on every call. Until the token actually expires,
// calls keep using it while one of them fetches the next, and if that
// fetch fails, the next attempt waits until halfway to the expiry.
func WithRefreshBefore(d time.Duration) CredentialsOption {
	return credentialsOptionFunc(func(c *Credentials) { c.refreshBefore = d })
}

// WithClock sets the clock used to judge expiry. The default is time.Now.
func WithClock(now func() time.Time) CredentialsOption {
	return credentialsOptionFunc(func(c *Credentials) { c.now = now })
}

// Credentials attach a token to outgoing calls, as a connect.Interceptor
// (every protocol and RPC kind) and as an http.RoundTripper wrapper (see
// [Credentials.RoundTripper]). A Credentials is safe for concurrent use:
// concurrent calls share one cached token and at most one fetch runs at a
// time.
type Credentials struct {
	header        string
	prefix        string
	source        TokenSource
	refreshBefore time.Duration
	now           func() time.Time

	mu        sync.Mutex
	token     string // without prefix
	value     string // header value
	expiry    time.Time
	refreshAt time.Time     // when to fetch the next token; zero: never
	inflight  chan struct{} // closed when the running fetch ends
}

var _ connect.Interceptor = (*Credentials)(nil)

// StaticToken returns Credentials that send token on every call, by default
// as "Authorization: Bearer <token>".
func StaticToken(token string, opts ...CredentialsOption) *Credentials {
	c := newCredentials(nil, opts)
	c.token, c.value = token, c.prefix+token
	return c
}

// NewCredentials returns Credentials that take tokens from source, cache
// each until shortly before it expires (see [WithRefreshBefore]) and then
// fetch the next. By default the token is sent as "Authorization: Bearer
// <token>".
func NewCredentials(source TokenSource, opts ...CredentialsOption) *Credentials {
	return newCredentials(source, opts)
}

func newCredentials(source TokenSource, opts []CredentialsOption) *Credentials {
	c := &Credentials{
		header:        "Authorization",
		prefix:        "Bearer ",
		source:        source,
		refreshBefore: time.Minute,
		now:           time.Now,
	}
	for _, opt := range opts {
		opt.applyCredentials(c)
	}
	return c
}

// errNoToken is returned when a source gives an empty token.
var errNoToken = errors.New("authn: token source returned an empty token")

// HeaderValue returns the header value to send now, such as "Bearer
// <token>", fetching a token if none is cached or the cached one is due for
// refresh. Errors are [connect.CodeUnauthenticated] errors wrapping the
// source's error, or, when ctx ends first, [connect.CodeCanceled] or
// [connect.CodeDeadlineExceeded] errors.
func (c *Credentials) HeaderValue(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		now := c.now()
		usable := c.value != "" && (c.expiry.IsZero() || now.Before(c.expiry))
		if usable && (c.source == nil || c.refreshAt.IsZero() || now.Before(c.refreshAt)) {
			value := c.value
			c.mu.Unlock()
			return value, nil
		}
		if c.source == nil {
			c.mu.Unlock()
			return "", connect.NewError(connect.CodeUnauthenticated, errNoToken)
		}
		if c.inflight != nil {
			// Someone is fetching: use the old token while it lasts, or wait.
			value, wait := c.value, c.inflight
			c.mu.Unlock()
			if usable {
				return value, nil
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", connect.NewError(contextCode(ctx.Err()), ctx.Err())
			}
		}
		done := make(chan struct{})
		c.inflight = done
		c.mu.Unlock()
		return c.fetch(ctx, done)
	}
}

// fetch gets a new token and publishes it; done is closed afterwards, even
// if the source panics, so that later calls never wait for a fetch that
// has ended.
func (c *Credentials) fetch(ctx context.Context, done chan struct{}) (string, error) {
	defer func() {
		c.mu.Lock()
		c.inflight = nil
		close(done)
		c.mu.Unlock()
	}()
	token, expiry, err := c.source.Token(ctx)
	if err == nil && token == "" {
		err = errNoToken
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err != nil {
		if c.value != "" && (c.expiry.IsZero() || now.Before(c.expiry)) {
			// The old token still works: keep it, and try again halfway
			// to its expiry rather than on every call.
			if !c.expiry.IsZero() {
				c.refreshAt = now.Add(c.expiry.Sub(now) / 2)
			}
			return c.value, nil
		}
		code := connect.CodeUnauthenticated
		if ctx.Err() != nil {
			// The call gave up; the source's error says how it noticed.
			code = contextCode(ctx.Err())
		}
		return "", connect.NewError(code, err)
	}
	c.token, c.value, c.expiry = token, c.prefix+token, expiry
	c.refreshAt = refreshTime(now, expiry, c.refreshBefore)
	return c.value, nil
}

// refreshTime is when to fetch the token after one, fetched at now, that
// expires at expiry: before ahead of the expiry, or halfway through the
// token's remaining life when that is shorter. Zero means never.
func refreshTime(now, expiry time.Time, before time.Duration) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	return expiry.Add(-min(before, expiry.Sub(now)/2))
}

// contextCode is the code of a call that ended with its context.
func contextCode(err error) connect.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.CodeDeadlineExceeded
	}
	return connect.CodeCanceled
}

// WrapUnary sets the credentials header on unary requests.
func (c *Credentials) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			return next(ctx, req)
		}
		value, err := c.HeaderValue(ctx)
		if err != nil {
			return nil, err
		}
		req.Header().Set(c.header, value)
		return next(ctx, req)
	}
}

// WrapStreamingClient sets the credentials header on streaming requests.
func (c *Credentials) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		value, err := c.HeaderValue(ctx)
		if err != nil {
			return &failedClientConn{StreamingClientConn: conn, err: err}
		}
		conn.RequestHeader().Set(c.header, value)
		return conn
	}
}

// WrapStreamingHandler returns next unchanged: credentials are for clients.
func (c *Credentials) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// failedClientConn fails every operation of a stream whose credentials
// could not be obtained, without sending anything.
type failedClientConn struct {
	connect.StreamingClientConn
	err error
}

func (f *failedClientConn) Send(any) error               { return f.err }
func (f *failedClientConn) Receive(any) error            { return f.err }
func (f *failedClientConn) CloseRequest() error          { return nil }
func (f *failedClientConn) CloseResponse() error         { return nil }
func (f *failedClientConn) ResponseHeader() http.Header  { return http.Header{} }
func (f *failedClientConn) ResponseTrailer() http.Header { return http.Header{} }

// RoundTripper returns an http.RoundTripper that sets the credentials header
// on each request and sends it with base (http.DefaultTransport when nil).
// The caller's request is not modified. Like http.Client with the headers
// of a request, it leaves the credentials out of the requests that follow a
// redirect to a host that is neither the initial one nor a subdomain of it,
// and out of the rest of that redirect chain.
func (c *Credentials) RoundTripper(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &credentialsTransport{creds: c, base: base}
}

type credentialsTransport struct {
	creds *Credentials
	base  http.RoundTripper
}

func (t *credentialsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if redirectedAway(req) {
		return t.base.RoundTrip(req)
	}
	value, err := t.creds.HeaderValue(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	out := *req
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Header.Set(t.creds.header, value)
	return t.base.RoundTrip(&out)
}

// redirectedAway reports whether req follows a redirect chain that has gone
// through a host other than the initial request's, or one of its
// subdomains: http.Client strips the Authorization header of such requests
// (see its documentation on redirects), so the transport must not add it.
func redirectedAway(req *http.Request) bool {
	initial := req
	for initial.Response != nil && initial.Response.Request != nil {
		initial = initial.Response.Request
	}
	if initial == req {
		return false
	}
	parent := strings.ToLower(initial.URL.Hostname())
	for r := req; r != initial; r = r.Response.Request {
		if r.URL.Host != initial.URL.Host && !isDomainOrSubdomain(strings.ToLower(r.URL.Hostname()), parent) {
			return true
		}
	}
	return false
}

// isDomainOrSubdomain reports whether sub is parent or a subdomain of it,
// as net/http decides whether a redirect may keep sensitive headers.
func isDomainOrSubdomain(sub, parent string) bool {
	if sub == parent {
		return true
	}
	// An IPv6 address (or zone) is no subdomain of anything.
	if strings.ContainsAny(sub, ":%") {
		return false
	}
	return strings.HasSuffix(sub, parent) && len(sub) > len(parent) && sub[len(sub)-len(parent)-1] == '.'
}
