package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
)

// Header is read access to a call's request headers. http.Header satisfies
// it, and so does connect-go v2's *connect.Header.
type Header interface {
	Get(key string) string
	Values(key string) []string
}

// Call describes the call being limited, as the HTTP middleware or the
// interceptor sees it. A [Key] reads it to derive the limiting key.
type Call struct {
	// Context is the call's context; it carries the authenticated identity
	// when authn's middleware ran first.
	Context context.Context
	// Procedure is the RPC procedure, such as "/acme.foo.v1.FooService/Bar"
	// (the URL path in the HTTP middleware).
	Procedure string
	// StreamType is the RPC kind (unary in the HTTP middleware, which cannot
	// tell before reading the body).
	StreamType connect.StreamType
	// Header holds the request headers.
	Header Header
	// IsClient is true in the client interceptor.
	IsClient bool

	peer     string
	peerFrom interface{ Peer() connect.Peer } // read on first use
}

// Peer returns the address of the other end of the connection ("ip:port"),
// or the server's host on clients. It is looked up on first use, so keys
// that do not need it do not pay for it.
func (c *Call) Peer() string {
	if c.peerFrom != nil {
		c.peer = c.peerFrom.Peer().Addr
		c.peerFrom = nil
	}
	return c.peer
}

// SetPeer sets the address Peer returns, for tests of custom keys.
func (c *Call) SetPeer(addr string) {
	c.peer, c.peerFrom = addr, nil
}

// Key derives the limiting key of a call. Use the Key constructors of this
// package, or [KeyFunc] for your own.
//
// Keys are opaque bytes. Keys longer than 128 bytes are replaced by their
// SHA-256 digest, so a huge header value cannot make one key expensive.
type Key interface {
	// AppendKey appends the call's key to dst and returns the extended
	// slice. When ok is false the call has no such key (no authenticated
	// identity, say) and this limit does not apply to it. AppendKey must
	// be safe for concurrent use, and must not keep dst or call.
	AppendKey(dst []byte, call *Call) (key []byte, ok bool)
}

// KeyFunc is a function that is a [Key].
type KeyFunc func(dst []byte, call *Call) (key []byte, ok bool)

// AppendKey returns f(dst, call).
func (f KeyFunc) AppendKey(dst []byte, call *Call) ([]byte, bool) { return f(dst, call) }

// stringKey is a Key whose value is a string the call already holds (a
// header value, an identity), so a decision can read it with no Call and
// no copy. keyString returns what AppendKey would append.
type stringKey interface {
	Key
	keyString(ctx context.Context, h http.Header) (string, bool)
}

// KeyProcedure keys calls by procedure: each method gets its own bucket,
// shared by every client.
func KeyProcedure() Key { return procedureKey{} }

type procedureKey struct{}

func (procedureKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	return append(dst, call.Procedure...), true
}

// KeyGlobal puts every call in one bucket: a limit on the whole service.
func KeyGlobal() Key { return globalKey{} }

type globalKey struct{}

func (globalKey) AppendKey(dst []byte, _ *Call) ([]byte, bool) { return dst, true }

func (globalKey) keyString(context.Context, http.Header) (string, bool) { return "", true }

// KeyHeader keys calls by the first value of the named request header (an
// API key, a tenant ID). Calls without it have no key.
func KeyHeader(name string) Key {
	return headerKey{name: http.CanonicalHeaderKey(name)}
}

type headerKey struct{ name string } // canonical

func (k headerKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	var v string
	switch h := call.Header.(type) {
	case nil:
		return dst, false
	case http.Header:
		v, _ = k.value(h)
	default:
		v = h.Get(k.name)
	}
	if v == "" {
		return dst, false
	}
	return append(dst, v...), true
}

func (k headerKey) keyString(_ context.Context, h http.Header) (string, bool) {
	return k.value(h)
}

// value returns the first value of the header, if it is not empty.
func (k headerKey) value(h http.Header) (string, bool) {
	// Skip Get's canonicalization: k.name already is.
	if vs := h[k.name]; len(vs) > 0 && vs[0] != "" {
		return vs[0], true
	}
	return "", false
}

// KeyIdentity keys calls by the authenticated identity that
// github.com/connectware/connectware/authn stored in the context (see
// authn.GetInfo). The identity is used as is when it is a string, through
// its String method when it is a fmt.Stringer, or its RateLimitKey method
// when it has one; any other identity, and no identity, give no key. Use
// [KeyIdentityFunc] for other types.
//
// Place the rate limiter after authn's middleware (or interceptor), so
// unauthenticated requests are rejected before they reach any client's
// bucket.
func KeyIdentity() Key {
	return KeyIdentityFunc(identityString)
}

// KeyIdentityFunc is [KeyIdentity] with fn turning the identity (never nil)
// into a key; an empty result means no key.
func KeyIdentityFunc(fn func(info any) string) Key {
	return identityKey{fn: fn}
}

type identityKey struct{ fn func(info any) string }

func (k identityKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	s, ok := k.keyString(call.Context, nil)
	if !ok {
		return dst, false
	}
	return append(dst, s...), true
}

func (k identityKey) keyString(ctx context.Context, _ http.Header) (string, bool) {
	if ctx == nil {
		return "", false
	}
	info := authn.GetInfo(ctx)
	if info == nil {
		return "", false
	}
	s := k.fn(info)
	return s, s != ""
}

func identityString(info any) string {
	switch v := info.(type) {
	case string:
		return v
	case interface{ RateLimitKey() string }:
		return v.RateLimitKey()
	case fmt.Stringer:
		return v.String()
	}
	return ""
}

// KeyIP keys calls by client IP address: the connection's peer, or, when
// the peer is inside one of trustedProxies, the client those proxies name in
// X-Forwarded-For (see [ClientIP]). Without trusted proxies no header is
// read, so a client cannot choose its key. IPv6 clients are keyed by their
// /64 prefix, the smallest block a site is usually given, so one host cannot
// rotate through its addresses.
//
// On clients, where the peer is the server's host, KeyIP keys by that host.
func KeyIP(trustedProxies ...netip.Prefix) Key {
	return KeyIPFrom(HeaderXForwardedFor, trustedProxies...)
}

// KeyIPFrom is [KeyIP] for proxies that report the client in header:
// [HeaderForwarded], [HeaderXForwardedFor] or [HeaderXRealIP].
func KeyIPFrom(header string, trustedProxies ...netip.Prefix) Key {
	return newIPKey(header, false, trustedProxies)
}

// KeyIPBehindUnixSocket is [KeyIPFrom] for a server that its proxy reaches
// over a Unix socket (nginx's proxy_pass http://unix:/path, for one). Such a
// peer has no IP address, so KeyIPFrom could neither trust it nor tell its
// clients apart: they would all share the peer's key. Here a peer that is
// not an IP address counts as a trusted proxy and header is read;
// trustedProxies are the proxies further along, as for KeyIPFrom. Peers
// that have an IP address (on a TCP listener of the same server) follow
// KeyIPFrom's rules. When the header names no client, calls share the
// peer's key.
//
// Any process that can connect to the socket can then choose its key:
// keep the socket's permissions to the proxy.
func KeyIPBehindUnixSocket(header string, trustedProxies ...netip.Prefix) Key {
	return newIPKey(header, true, trustedProxies)
}

func newIPKey(header string, unixTrusted bool, trustedProxies []netip.Prefix) Key {
	trusted := make([]netip.Prefix, len(trustedProxies))
	for i, p := range trustedProxies {
		trusted[i] = unmapPrefix(p)
	}
	canonical := canonicalForwardingHeader(header)
	if canonical == "" {
		panic("ratelimit: KeyIPFrom reads Forwarded, X-Forwarded-For or X-Real-IP, not " + header)
	}
	return ipKey{header: canonical, trusted: trusted, unixTrusted: unixTrusted}
}

type ipKey struct {
	header      string
	trusted     []netip.Prefix
	unixTrusted bool // a peer that is not an IP address is a trusted proxy
}

func (k ipKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	peer := call.Peer()
	addr, ok := ClientIP(peer, call.Header, k.header, k.trusted)
	if !ok && k.unixTrusted && !call.IsClient && call.Header != nil {
		addr = fromHeader(netip.Addr{}, call.Header, k.header, k.trusted)
		ok = addr.IsValid()
	}
	if !ok {
		if peer == "" {
			return dst, false
		}
		return append(dst, peer...), true // a host name on clients, a Unix socket's peer
	}
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			addr = p.Addr()
		}
	}
	return addr.AppendTo(dst), true
}

// KeyJoin combines keys: a call's key is every part, in order, and it has
// one only when every part does. KeyJoin(KeyIdentity(), KeyProcedure()), for
// example, gives each client its own bucket per method.
func KeyJoin(keys ...Key) Key {
	return joinKey(append([]Key(nil), keys...))
}

type joinKey []Key

func (keys joinKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	for _, k := range keys {
		start := len(dst)
		out, ok := k.AppendKey(dst, call)
		if !ok {
			// A part without a key may return anything (nil, say): give
			// back what the parts before it appended.
			return dst, false
		}
		dst = out
		// Suffix each part with its length, so parts cannot run into
		// each other ("a|b"+"c" differs from "a"+"b|c").
		n := min(len(dst)-start, 0xffff)
		dst = append(dst, byte(n>>8), byte(n))
	}
	return dst, true
}

// KeyFirst uses the first of keys that the call has: KeyFirst(KeyIdentity(),
// KeyIP()) keys authenticated calls by identity and the rest by address.
// Each alternative is tagged, so an identity can never share a bucket with
// an address that looks the same.
func KeyFirst(keys ...Key) Key {
	return firstKey(append([]Key(nil), keys...))
}

type firstKey []Key

func (keys firstKey) AppendKey(dst []byte, call *Call) ([]byte, bool) {
	for i, k := range keys {
		start := len(dst)
		tagged := append(dst, byte(i))
		if out, ok := k.AppendKey(tagged, call); ok {
			return out, true
		}
		dst = tagged[:start] // whatever the part returned without a key
	}
	return dst, false
}
