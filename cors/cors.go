package cors

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	rscors "github.com/rs/cors"
)

// DefaultMaxAge is how long browsers may cache a preflight answer unless
// [WithMaxAge] says otherwise: two hours, the most Chromium honours.
// Firefox caps the value at 24 hours, so it honours this in full; Safari
// caps it at ten minutes. Without the header browsers cache a preflight
// for five seconds only, and send one before almost every call.
const DefaultMaxAge = 2 * time.Hour

// CORS is a CORS middleware for Connect and gRPC-Web, built on
// github.com/rs/cors. Create it with [New]; it is safe for concurrent use and
// immutable once built.
type CORS struct {
	rs      *rscors.Cors
	origins *originMatcher
	options rscors.Options
}

// Option configures [New].
type Option interface {
	apply(*config)
}

type config struct {
	protocols      Protocol
	requestHeaders []string
	exposedHeaders []string
	unaryTrailers  []string
	maxAge         time.Duration
	credentials    bool
	authorization  bool
	originFunc     func(*http.Request, string) bool
	rsOptions      []func(*rscors.Options)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProtocols limits the grants to what protocols p need. The default is
// [ProtocolAll]: Connect and gRPC-Web.
func WithProtocols(p Protocol) Option {
	return optionFunc(func(c *config) { c.protocols = p })
}

// WithAuthorization allows the Authorization request header, for bearer
// tokens and Basic credentials sent by script. It does not allow cookies:
// see [WithCredentials].
func WithAuthorization() Option {
	return optionFunc(func(c *config) { c.authorization = true })
}

// WithCredentials lets browsers send cookies and TLS client certificates
// with cross-origin calls (Access-Control-Allow-Credentials: true). Only
// enable it when the server authenticates with them; it cannot be combined
// with the "*" origin.
func WithCredentials() Option {
	return optionFunc(func(c *config) { c.credentials = true })
}

// WithRequestHeaders allows more request headers, such as your own metadata
// ("X-Request-Id").
func WithRequestHeaders(names ...string) Option {
	return optionFunc(func(c *config) { c.requestHeaders = append(c.requestHeaders, names...) })
}

// WithExposedHeaders lets browser scripts read more response headers. A
// browser hides every response header but a few safelisted ones
// (Content-Type, Cache-Control...) from cross-origin scripts: the
// rate-limit headers RateLimit, RateLimit-Policy and Retry-After, for
// instance, must be exposed here for a page to slow down as they ask.
func WithExposedHeaders(names ...string) Option {
	return optionFunc(func(c *config) { c.exposedHeaders = append(c.exposedHeaders, names...) })
}

// WithUnaryTrailers exposes the Connect unary trailers with the given names
// (sent as "Trailer-NAME" headers). It has no effect unless the Connect
// protocol is allowed.
func WithUnaryTrailers(names ...string) Option {
	return optionFunc(func(c *config) { c.unaryTrailers = append(c.unaryTrailers, names...) })
}

// WithMaxAge sets how long browsers may cache a preflight answer. Zero or
// less sends "Access-Control-Max-Age: 0", which disables caching. Browsers
// cap the value (Chromium at two hours); the default is [DefaultMaxAge].
func WithMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxAge = d })
}

// WithOriginFunc adds a dynamic origin check: an origin that none of the
// configured patterns allows is granted when f returns true. f sees the
// request, so it can consult a tenant table; it must be safe for concurrent
// use.
func WithOriginFunc(f func(r *http.Request, origin string) bool) Option {
	return optionFunc(func(c *config) { c.originFunc = f })
}

// WithRSOptions edits the github.com/rs/cors options after New has filled
// them in, for what this package does not cover (AllowPrivateNetwork,
// OptionsSuccessStatus, Logger, Debug...). Fields it sets win over New's.
//
// That holds for the origin fields too. If edit changes any of
// AllowedOrigins, AllowOriginFunc, AllowOriginRequestFunc and
// AllowOriginVaryRequestFunc, they replace the origins given to [New] and
// [WithOriginFunc], and the first one set in that order decides, as in
// rs/cors. Origins in AllowedOrigins follow New's rules: each is checked
// (New returns an error for an invalid one), an empty list grants
// nothing, never everything, and "*" cannot be combined with credentials.
// Whichever field decides, a request with more than one Origin header
// gets no grant, except that of "*". Edits run in the order given.
func WithRSOptions(edit func(*rscors.Options)) Option {
	return optionFunc(func(c *config) { c.rsOptions = append(c.rsOptions, edit) })
}

// New returns a CORS middleware granting the given origins.
//
// Each origin is "scheme://host" or "scheme://host:port", compared without
// regard to case, or a wildcard-subdomain pattern "scheme://*.domain[:port]"
// that matches any subdomain of domain at any depth (but not domain itself).
// The single origin "*" grants every origin and cannot be combined with
// [WithCredentials]. New returns an error for anything else (a path, a
// query, a malformed host, a misplaced wildcard), and when no origin is
// given and no [WithOriginFunc] is set: an empty list grants nothing, never
// everything.
//
// An origin with its scheme's default port ("https://host:443",
// "http://host:80") is stored without it, as browsers send it. A port must
// be a number from 1 to 65535 without leading zeros, and a wildcard needs
// at least two labels after it ("https://*.example.com", not
// "https://*.com"), except for "*.localhost".
func New(origins []string, opts ...Option) (*CORS, error) {
	cfg := config{protocols: ProtocolAll, maxAge: DefaultMaxAge}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.protocols&ProtocolAll == 0 {
		return nil, errors.New("cors: no protocol allowed")
	}
	matcher, err := newOriginMatcher(origins)
	if err != nil {
		return nil, err
	}
	requestHeaders := RequestHeaders(cfg.protocols)
	if cfg.authorization {
		requestHeaders = append(requestHeaders, "Authorization")
	}
	requestHeaders = dedupe(append(requestHeaders, cfg.requestHeaders...))
	exposed := dedupe(append(ResponseHeaders(cfg.protocols, cfg.unaryTrailers...), cfg.exposedHeaders...))
	maxAge := int(cfg.maxAge / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // rs/cors: a negative MaxAge sends "0"
	}
	options := rscors.Options{
		AllowedMethods:   Methods(cfg.protocols),
		AllowedHeaders:   requestHeaders,
		ExposedHeaders:   exposed,
		MaxAge:           maxAge,
		AllowCredentials: cfg.credentials,
	}
	// Every grant but "*" is decided by a function that also requires a
	// single Origin header: a browser sends exactly one, and rs/cors echoes
	// all of a request's Origin values in Access-Control-Allow-Origin, so
	// a second, unallowed origin would be echoed along with an allowed one.
	switch {
	case matcher.any:
		options.AllowedOrigins = []string{"*"}
	case cfg.originFunc != nil:
		extra := cfg.originFunc
		options.AllowOriginVaryRequestFunc = func(r *http.Request, origin string) (bool, []string) {
			return (matcher.match(origin) || extra(r, origin)) && oneOrigin(r), nil
		}
	default:
		options.AllowOriginVaryRequestFunc = func(r *http.Request, origin string) (bool, []string) {
			return matcher.match(origin) && oneOrigin(r), nil
		}
		if len(matcher.wildcards) == 0 {
			// For readers of Options; the function above decides (rs/cors
			// ignores the list when there is one).
			options.AllowedOrigins = matcher.exactList()
		}
	}
	newOrigins := slices.Clone(options.AllowedOrigins)
	newDecider := options.AllowOriginVaryRequestFunc
	for _, edit := range cfg.rsOptions {
		edit(&options)
	}
	if originsEdited(&options, newOrigins, newDecider) {
		// New's function, which an edit may have wrapped, keeps its own
		// matcher; the edited fields get theirs.
		edited, err := useEditedOrigins(&options, newDecider)
		if err != nil {
			return nil, err
		}
		return finish(edited, options)
	}
	if matcher.empty() && cfg.originFunc == nil {
		return nil, errors.New("cors: no origin allowed")
	}
	return finish(matcher, options)
}

// finish builds the middleware once the options are final.
func finish(matcher *originMatcher, options rscors.Options) (*CORS, error) {
	if matcher.any && options.AllowCredentials {
		return nil, errors.New(`cors: the "*" origin cannot be combined with credentials`)
	}
	return &CORS{rs: rscors.New(options), origins: matcher, options: options}, nil
}

// originsEdited reports whether a [WithRSOptions] edit changed an origin
// field of o, given what New had put in AllowedOrigins and
// AllowOriginVaryRequestFunc. New sets neither AllowOriginFunc nor
// AllowOriginRequestFunc.
func originsEdited(o *rscors.Options, newOrigins []string, newDecider func(*http.Request, string) (bool, []string)) bool {
	return !slices.Equal(o.AllowedOrigins, newOrigins) ||
		o.AllowOriginFunc != nil || o.AllowOriginRequestFunc != nil ||
		!sameFunc(o.AllowOriginVaryRequestFunc, newDecider)
}

// sameFunc reports whether a and b are both nil or the same function. Funcs
// are not comparable in Go; their code pointers tell New's own closure from
// any function an edit sets.
func sameFunc(a, b func(*http.Request, string) (bool, []string)) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// useEditedOrigins makes the origin fields of o, as a [WithRSOptions] edit
// left them, decide the grant in place of New's origins, with the
// precedence rs/cors gives them and the single-Origin guard, and returns
// the matcher for AllowedOrigins (an empty one when a function decides).
func useEditedOrigins(o *rscors.Options, newDecider func(*http.Request, string) (bool, []string)) (*originMatcher, error) {
	var decide func(*http.Request, string) (bool, []string)
	matcher := &originMatcher{}
	switch vary, request, plain := o.AllowOriginVaryRequestFunc, o.AllowOriginRequestFunc, o.AllowOriginFunc; {
	case vary != nil && !sameFunc(vary, newDecider):
		decide = vary
	case request != nil:
		decide = func(r *http.Request, origin string) (bool, []string) { return request(r, origin), nil }
	case plain != nil:
		decide = func(_ *http.Request, origin string) (bool, []string) { return plain(origin), nil }
	default:
		m, err := newOriginMatcher(o.AllowedOrigins)
		if err != nil {
			return nil, err
		}
		if m.empty() {
			return nil, errors.New("cors: the origin fields WithRSOptions left allow no origin")
		}
		if m.any {
			// rs/cors grants "*" itself, without a function.
			o.AllowedOrigins = []string{"*"}
			o.AllowOriginVaryRequestFunc = nil
			return m, nil
		}
		matcher = m
		decide = func(_ *http.Request, origin string) (bool, []string) { return m.match(origin), nil }
	}
	o.AllowOriginVaryRequestFunc = func(r *http.Request, origin string) (bool, []string) {
		ok, vary := decide(r, origin)
		return ok && oneOrigin(r), vary
	}
	return matcher, nil
}

// Handler wraps next: preflights are answered here and never reach next;
// other requests get their CORS response headers and go on to next,
// granted or not (the browser enforces the grant). A request with more
// than one Origin header is malformed (a browser sends exactly one) and
// gets no grant, except that of "*".
func (c *CORS) Handler(next http.Handler) http.Handler {
	return c.rs.Handler(next)
}

// Wrap is the same as [CORS.Handler], for stacks that use Wrap.
func (c *CORS) Wrap(next http.Handler) http.Handler {
	return c.rs.Handler(next)
}

// OriginAllowed reports whether r's Origin header is granted. A request
// without one, or with an empty one, is not a cross-origin browser request
// and gets no grant: OriginAllowed reports false for it, even with the "*"
// origin.
func (c *CORS) OriginAllowed(r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	return c.rs.OriginAllowed(r)
}

// Options returns a copy of the github.com/rs/cors options the middleware
// was built from, for logging or for building another CORS handler.
func (c *CORS) Options() rscors.Options {
	o := c.options
	o.AllowedMethods = slices.Clone(o.AllowedMethods)
	o.AllowedHeaders = slices.Clone(o.AllowedHeaders)
	o.ExposedHeaders = slices.Clone(o.ExposedHeaders)
	o.AllowedOrigins = slices.Clone(o.AllowedOrigins)
	return o
}

// oneOrigin reports whether r has at most one Origin header.
func oneOrigin(r *http.Request) bool { return len(r.Header["Origin"]) <= 1 }

// dedupe canonicalizes names in place, dropping blank names and repeats:
// each name is kept once, where it first appears.
func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0]
	for _, n := range names {
		k := http.CanonicalHeaderKey(strings.TrimSpace(n))
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// originMatcher holds the origins compiled by New: an exact set and a list
// of wildcard-subdomain suffixes. match does not allocate unless the origin
// has upper-case letters.
type originMatcher struct {
	any       bool
	exact     map[string]struct{}
	wildcards []wildcard
}

type wildcard struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

func (m *originMatcher) exactList() []string {
	list := make([]string, 0, len(m.exact))
	for o := range m.exact {
		list = append(list, o)
	}
	slices.Sort(list)
	return list
}

func (m *originMatcher) empty() bool {
	return !m.any && len(m.exact) == 0 && len(m.wildcards) == 0
}

func newOriginMatcher(origins []string) (*originMatcher, error) {
	m := &originMatcher{exact: make(map[string]struct{}, len(origins))}
	for _, raw := range origins {
		o := strings.ToLower(strings.TrimSpace(raw))
		if o == "*" {
			m.any = true
			continue
		}
		o, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("cors: origin %q: %w", raw, err)
		}
		if rest, ok := strings.CutPrefix(o[strings.Index(o, "://")+3:], "*."); ok {
			scheme := o[:strings.Index(o, "://")+3]
			m.wildcards = append(m.wildcards, wildcard{prefix: scheme, suffix: "." + rest})
			continue
		}
		m.exact[o] = struct{}{}
	}
	return m, nil
}

// defaultPorts are the ports browsers leave out of the origins they send.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}

// normalizeOrigin checks o, a lower-case origin or one whose host starts
// with "*.", and returns it as a browser serializes an origin: without its
// scheme's default port.
func normalizeOrigin(o string) (string, error) {
	scheme, hostport, ok := strings.Cut(o, "://")
	if !ok || scheme == "" {
		return "", errors.New(`want "scheme://host[:port]"`)
	}
	for i := range len(scheme) {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", errors.New("bad scheme")
		}
	}
	hostport, wild := strings.CutPrefix(hostport, "*.")
	if strings.Contains(hostport, "*") {
		return "", errors.New(`a wildcard must be the whole leftmost label: "scheme://*.domain"`)
	}
	u, err := url.Parse(scheme + "://" + hostport)
	if err != nil || u.Host != hostport || u.Hostname() == "" || u.User != nil {
		return "", errors.New(`want "scheme://host[:port]" with no path, query or user`)
	}
	host, port := u.Hostname(), u.Port()
	if !validHost(host) {
		return "", errors.New("bad host")
	}
	if strings.HasPrefix(hostport, "[") {
		// Browsers serialize an IPv6 host one way only (lower-case hex,
		// the first longest run of zeros as "::", no dotted IPv4 part):
		// store it so, or it would never match.
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", errors.New("bad IPv6 host")
		}
		hostport = "[" + ipv6Origin(addr) + "]" + strings.TrimPrefix(hostport, hostport[:strings.IndexByte(hostport, ']')+1])
	}
	switch {
	case strings.HasSuffix(hostport, ":"):
		return "", errors.New(`empty port: write "scheme://host" or "scheme://host:port"`)
	case port == "":
	case port[0] == '0' && len(port) > 1:
		return "", fmt.Errorf("port %s has a leading zero, which browsers never send", port)
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %s is not in 1-65535", port)
		}
		if defaultPorts[scheme] == port {
			hostport = strings.TrimSuffix(hostport, ":"+port)
		}
	}
	if !wild {
		return scheme + "://" + hostport, nil
	}
	if strings.HasPrefix(hostport, "[") || net.ParseIP(host) != nil {
		return "", errors.New("a wildcard stands for subdomains: it cannot go over an IP address")
	}
	if !strings.Contains(host, ".") && host != "localhost" {
		return "", fmt.Errorf(`a wildcard over the single label %q would grant every site under it: name a domain, as in "%s://*.example.%s"`, host, scheme, host)
	}
	return scheme + "://*." + hostport, nil
}

// ipv6Origin writes addr as the URL standard serializes an IPv6 address:
// eight lower-case hex pieces without leading zeros, the first longest run
// of two or more zero pieces written "::". (netip writes IPv4-mapped
// addresses with a dotted part, which browsers do not.)
func ipv6Origin(addr netip.Addr) string {
	b := addr.As16()
	var pieces [8]uint16
	for i := range pieces {
		pieces[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	zeroStart, zeroLen := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && pieces[j] == 0 {
			j++
		}
		if j-i > zeroLen {
			zeroStart, zeroLen = i, j-i
		}
		i = max(j, i+1)
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if i == zeroStart {
			sb.WriteString("::")
			i += zeroLen - 1
			continue
		}
		if i > 0 && i != zeroStart+zeroLen {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(pieces[i]), 16))
	}
	return sb.String()
}

func validHost(h string) bool {
	if strings.HasPrefix(h, "[") || strings.Contains(h, ":") { // IPv6 literal
		return true
	}
	for i := range len(h) {
		if !hostByte(h[i]) {
			return false
		}
	}
	return !strings.HasPrefix(h, ".") && !strings.HasSuffix(h, ".") && !strings.Contains(h, "..")
}

func hostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.'
}

func (m *originMatcher) match(origin string) bool {
	if m.any {
		return true
	}
	if len(origin) == 0 || len(origin) > maxOriginLen {
		return false
	}
	if hasUpper(origin) {
		origin = strings.ToLower(origin)
	}
	if _, ok := m.exact[origin]; ok {
		return true
	}
	for _, w := range m.wildcards {
		if len(origin) <= len(w.prefix)+len(w.suffix) ||
			!strings.HasPrefix(origin, w.prefix) || !strings.HasSuffix(origin, w.suffix) {
			continue
		}
		// The part the wildcard stands for must be one or more host labels:
		// no port, path, user info or empty label.
		sub := origin[len(w.prefix) : len(origin)-len(w.suffix)]
		if sub[0] == '.' || sub[len(sub)-1] == '.' || strings.Contains(sub, "..") {
			continue
		}
		ok := true
		for i := range len(sub) {
			if !hostByte(sub[i]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// maxOriginLen bounds the origins worth comparing: a scheme, a 253-byte host
// name and a port fit well within it.
const maxOriginLen = 512

func hasUpper(s string) bool {
	for i := range len(s) {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
