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

// Key derives the limiting key of a call: it appends the key to dst and
// returns the extended slice. When ok is false the call has no such key
// (no authenticated identity, say) and this limit does not apply to it.
//
// Keys are opaque bytes. Keys longer than 128 bytes are replaced by their
// SHA-256 digest, so a huge header value cannot make one key expensive.
type Key func(dst []byte, call *Call) (key []byte, ok bool)

// KeyProcedure keys calls by procedure: each method gets its own bucket,
// shared by every client.
func KeyProcedure() Key {
	return func(dst []byte, call *Call) ([]byte, bool) {
		return append(dst, call.Procedure...), true
	}
}

// KeyGlobal puts every call in one bucket: a limit on the whole service.
func KeyGlobal() Key {
	return func(dst []byte, _ *Call) ([]byte, bool) { return dst, true }
}

// KeyHeader keys calls by the first value of the named request header (an
// API key, a tenant ID). Calls without it have no key.
func KeyHeader(name string) Key {
	name = http.CanonicalHeaderKey(name)
	return func(dst []byte, call *Call) ([]byte, bool) {
		var v string
		switch h := call.Header.(type) {
		case nil:
			return dst, false
		case http.Header: // skip Get's canonicalization: name already is
			if vs := h[name]; len(vs) > 0 {
				v = vs[0]
			}
		default:
			v = h.Get(name)
		}
		if v == "" {
			return dst, false
		}
		return append(dst, v...), true
	}
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
	return func(dst []byte, call *Call) ([]byte, bool) {
		if call.Context == nil {
			return dst, false
		}
		info := authn.GetInfo(call.Context)
		if info == nil {
			return dst, false
		}
		s := fn(info)
		if s == "" {
			return dst, false
		}
		return append(dst, s...), true
	}
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
	trusted := make([]netip.Prefix, len(trustedProxies))
	for i, p := range trustedProxies {
		trusted[i] = p.Masked()
	}
	switch http.CanonicalHeaderKey(header) {
	case HeaderForwarded:
		header = HeaderForwarded
	case HeaderXRealIP:
		header = HeaderXRealIP
	case HeaderXForwardedFor, "":
		header = HeaderXForwardedFor
	default:
		panic("ratelimit: KeyIPFrom reads Forwarded, X-Forwarded-For or X-Real-IP, not " + header)
	}
	return func(dst []byte, call *Call) ([]byte, bool) {
		peer := call.Peer()
		addr, ok := ClientIP(peer, call.Header, header, trusted)
		if !ok {
			if peer == "" {
				return dst, false
			}
			return append(dst, peer...), true // a host name, on clients
		}
		if addr.Is6() {
			if p, err := addr.Prefix(64); err == nil {
				addr = p.Addr()
			}
		}
		return addr.AppendTo(dst), true
	}
}

// KeyJoin combines keys: a call's key is every part, in order, and it has
// one only when every part does. KeyJoin(KeyIdentity(), KeyProcedure()), for
// example, gives each client its own bucket per method.
func KeyJoin(keys ...Key) Key {
	keys = append([]Key(nil), keys...)
	return func(dst []byte, call *Call) ([]byte, bool) {
		for _, k := range keys {
			start := len(dst)
			var ok bool
			dst, ok = k(dst, call)
			if !ok {
				return dst[:start], false
			}
			// Suffix each part with its length, so parts cannot run into
			// each other ("a|b"+"c" differs from "a"+"b|c").
			n := min(len(dst)-start, 0xffff)
			dst = append(dst, byte(n>>8), byte(n))
		}
		return dst, true
	}
}

// KeyFirst uses the first of keys that the call has: KeyFirst(KeyIdentity(),
// KeyIP()) keys authenticated calls by identity and the rest by address.
// Each alternative is tagged, so an identity can never share a bucket with
// an address that looks the same.
func KeyFirst(keys ...Key) Key {
	keys = append([]Key(nil), keys...)
	return func(dst []byte, call *Call) ([]byte, bool) {
		for i, k := range keys {
			start := len(dst)
			out, ok := k(append(dst, byte(i)), call)
			if ok {
				return out, true
			}
			dst = out[:start]
		}
		return dst, false
	}
}
