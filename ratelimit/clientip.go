package ratelimit

import (
	"net/netip"
	"strings"
)

// Limits on what ClientIP reads from forwarding headers; anything beyond is
// ignored, never an error.
const (
	maxHops    = 32  // addresses walked, right to left
	maxElement = 256 // bytes in one hop
)

// Headers trusted proxies use to report the client, for [ClientIP] and
// [KeyIPFrom].
const (
	// HeaderForwarded is the standard header of RFC 7239 ("for=" parameters).
	HeaderForwarded = "Forwarded"
	// HeaderXForwardedFor is the de facto standard list of addresses.
	HeaderXForwardedFor = "X-Forwarded-For"
	// HeaderXRealIP names the client directly (nginx's real_ip module).
	HeaderXRealIP = "X-Real-Ip"
)

// ClientIP returns the address of the client that made a request, given the
// connection's peer address ("ip:port" or "ip"), the request headers, the
// header the trusted proxies set ([HeaderForwarded], [HeaderXForwardedFor] or
// [HeaderXRealIP], in any case; empty means X-Forwarded-For), and the
// proxies trusted to set it.
//
// When the peer is not inside trustedProxies, ClientIP returns the peer and
// never reads a header, so a client cannot pick its own address. Only the
// named header is read: a client that adds another one changes nothing, and
// a name that is none of the three reads no header at all.
//
// Forwarded and X-Forwarded-For list one address per hop, appended by each
// proxy, and only the right-hand end was written by proxies we trust.
// ClientIP walks them right to left (across repeated header lines, too),
// skipping trusted proxies, and returns the first address outside
// trustedProxies. If every address is trusted it returns the left-most one.
// A hop that is not an IP address ("unknown", an obfuscated identifier, a
// Forwarded element without for=, a malformed or over-long value) ends the
// walk: the last trusted address seen is returned, since nothing to its left
// can be believed. (An address with an obfuscated port, as RFC 7239 allows,
// is an address.) At most 32 hops of at most 256 bytes are read. X-Real-IP
// holds one address, taken from its last line.
//
// A prefix may be written in IPv4-mapped IPv6 form (::ffff:10.0.0.0/104):
// it holds the IPv4 addresses it maps.
//
// The boolean is false only when the peer itself is not an IP address.
func ClientIP(peer string, header Header, headerName string, trustedProxies []netip.Prefix) (netip.Addr, bool) {
	addr, ok := parseNode(peer)
	if !ok {
		return netip.Addr{}, false
	}
	if header == nil || !trusted(addr, trustedProxies) {
		return addr, true
	}
	return fromHeader(addr, header, headerName, trustedProxies), true
}

// fromHeader returns the client that header names, given the trusted
// proxy that sent it (or no address, for a trusted peer that has none).
func fromHeader(proxy netip.Addr, header Header, headerName string, trustedProxies []netip.Prefix) netip.Addr {
	switch canonicalForwardingHeader(headerName) {
	case HeaderForwarded:
		return walk(proxy, header.Values(HeaderForwarded), trustedProxies, forwardedFor)
	case HeaderXRealIP:
		if values := header.Values(HeaderXRealIP); len(values) > 0 {
			if real, ok := parseNode(trimOWS(values[len(values)-1])); ok {
				return real
			}
		}
		return proxy
	case HeaderXForwardedFor:
		return walk(proxy, header.Values(HeaderXForwardedFor), trustedProxies, parseNode)
	}
	return proxy
}

// canonicalForwardingHeader returns the header name's canonical form when
// it is one ClientIP reads (the empty name is X-Forwarded-For), and "" for
// any other name.
func canonicalForwardingHeader(name string) string {
	switch name {
	case HeaderForwarded, HeaderXForwardedFor, HeaderXRealIP:
		return name
	case "":
		return HeaderXForwardedFor
	}
	switch {
	case strings.EqualFold(name, HeaderForwarded):
		return HeaderForwarded
	case strings.EqualFold(name, HeaderXForwardedFor):
		return HeaderXForwardedFor
	case strings.EqualFold(name, HeaderXRealIP):
		return HeaderXRealIP
	}
	return ""
}

func trusted(addr netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
		if p.Addr().Is4In6() && addr.Is4() && unmapPrefix(p).Contains(addr) {
			return true
		}
	}
	return false
}

// unmapPrefix returns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) as
// the IPv4 prefix it maps (10.0.0.0/8); other prefixes are returned masked.
// A mapped prefix shorter than /96 covers more than mapped addresses and is
// kept as it is.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

// walk reads the comma-separated hops of values right to left. last is the
// nearest trusted address so far.
func walk(last netip.Addr, values []string, prefixes []netip.Prefix, parse func(string) (netip.Addr, bool)) netip.Addr {
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for end := len(v); end >= 0; {
			start, ok := hopStart(v, end)
			if !ok {
				return last
			}
			hop := trimOWS(v[start:end])
			end = start - 1 // skip the comma
			if hop == "" {
				continue // empty list members are allowed, and ignored
			}
			hops++
			if hops > maxHops {
				return last
			}
			addr, ok := parse(hop)
			if !ok {
				return last
			}
			if !trusted(addr, prefixes) {
				return addr
			}
			last = addr
		}
	}
	return last
}

// hopStart returns where the hop ending at v[end] begins: just after the
// nearest comma to its left that is outside a quoted string. It fails on
// hops longer than maxElement or with unbalanced quotes.
func hopStart(v string, end int) (int, bool) {
	quoted := false
	for i := end - 1; i >= 0; i-- {
		if end-i > maxElement {
			return 0, false
		}
		switch v[i] {
		case '"':
			backslashes := 0
			for j := i - 1; j >= 0 && v[j] == '\\'; j-- {
				backslashes++
			}
			if backslashes%2 == 0 {
				quoted = !quoted
			}
		case ',':
			if !quoted {
				return i + 1, true
			}
		}
	}
	return 0, !quoted
}

// forwardedFor parses one Forwarded element ("for=...;proto=https") and
// returns the address of its for= parameter.
func forwardedFor(element string) (netip.Addr, bool) {
	for element != "" {
		pair := element
		if i := indexUnquoted(element, ';'); i >= 0 {
			pair, element = element[:i], element[i+1:]
		} else {
			element = ""
		}
		pair = trimOWS(pair)
		eq := strings.IndexByte(pair, '=')
		if eq < 0 || !strings.EqualFold(pair[:eq], "for") {
			continue
		}
		value := pair[eq+1:]
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
			if strings.IndexByte(value, '\\') >= 0 {
				return netip.Addr{}, false // no address needs escaping
			}
		}
		return parseNode(withoutObfuscatedPort(value))
	}
	return netip.Addr{}, false
}

// withoutObfuscatedPort strips an RFC 7239 obfuscated port ("_" and then
// one or more letters, digits, ".", "_" or "-") from a Forwarded node, which leaves its
// address: "192.0.2.1:_x" and "[2001:db8::1]:_x". Other nodes are returned
// as they are.
func withoutObfuscatedPort(node string) string {
	i := strings.LastIndexByte(node, ':')
	if i < 0 || i+2 >= len(node) || node[i+1] != '_' {
		return node
	}
	for _, c := range []byte(node[i+2:]) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return node
		}
	}
	host := node[:i]
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") || !strings.HasPrefix(host, "[") && strings.IndexByte(host, ':') >= 0 {
		return node // an IPv6 address must be bracketed to carry a port
	}
	return host
}

func indexUnquoted(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case c:
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// parseNode parses an address as it appears in peers and forwarding
// headers: "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:80". Zones are dropped and IPv4-mapped IPv6 addresses are
// unmapped.
func parseNode(s string) (netip.Addr, bool) {
	if s == "" || len(s) > maxElement {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := s[end+1:]
		if rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
			return netip.Addr{}, false
		}
		s = s[1:end]
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// One colon: IPv4 with a port.
		if !isPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		s = s[:i]
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
