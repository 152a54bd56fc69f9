package ratelimit_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/ratelimit"
)

var proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}

func TestClientIP(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("1.2.3.4, ", 100_000) + "10.0.0.9"
	tests := []struct {
		name, peer, header, value, want string
	}{
		{"untrusted peer ignores XFF", "203.0.113.9:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1", "203.0.113.9"},
		{"untrusted peer ignores X-Real-IP", "203.0.113.9:4000", ratelimit.HeaderXRealIP, "198.51.100.1", "203.0.113.9"},
		{"untrusted peer ignores Forwarded", "203.0.113.9:4000", ratelimit.HeaderForwarded, "for=198.51.100.1", "203.0.113.9"},
		{"trusted peer, XFF", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1", "198.51.100.1"},
		{"right to left: spoofed left part ignored", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"},
		{"all trusted gives left-most", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "10.1.1.1, 10.0.0.2", "10.1.1.1"},
		{"garbage hop stops the walk", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1, nonsense, 10.0.0.2", "10.0.0.2"},
		{"garbage right-most keeps peer", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1, nonsense", "10.0.0.1"},
		{"XFF with ports and v6", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "[2001:db8::1]:443", "2001:db8::1"},
		{"XFF v4 with port", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1:5555", "198.51.100.1"},
		{"empty members skipped", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, "198.51.100.1,, ,", "198.51.100.1"},
		{"huge header read from the right only", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, huge, "1.2.3.4"},
		{"over-long hop ignored", "10.0.0.1:4000", ratelimit.HeaderXForwardedFor, strings.Repeat("9", 10_000), "10.0.0.1"},
		{"Forwarded", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for=6.6.6.6, for=198.51.100.1;proto=https, for=10.0.0.3`, "198.51.100.1"},
		{"Forwarded quoted v6 with port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `For="[2001:db8:cafe::17]:4711"`, "2001:db8:cafe::17"},
		{"Forwarded unknown stops", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for=198.51.100.1, for=unknown`, "10.0.0.1"},
		{"Forwarded obfuscated stops", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for=_hidden`, "10.0.0.1"},
		{"Forwarded obfuscated port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="198.51.100.1:_p-1.x"`, "198.51.100.1"},
		{"Forwarded v6 obfuscated port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="[2001:db8::1]:_x"`, "2001:db8::1"},
		{"Forwarded bad obfuscated port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="198.51.100.1:_p!"`, "10.0.0.1"},
		{"Forwarded unbracketed v6 obfuscated port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="2001:db8::1:_x"`, "10.0.0.1"},
		{"Forwarded empty obfuscated port", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="198.51.100.1:_"`, "10.0.0.1"},
		{"Forwarded quoted comma", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for=198.51.100.1;by="a,b"`, "198.51.100.1"},
		{"Forwarded unbalanced quote", "10.0.0.1:4000", ratelimit.HeaderForwarded, `for="198.51.100.1`, "10.0.0.1"},
		{"X-Real-IP", "10.0.0.1:4000", ratelimit.HeaderXRealIP, " 198.51.100.1 ", "198.51.100.1"},
		{"X-Real-IP garbage", "10.0.0.1:4000", ratelimit.HeaderXRealIP, "x", "10.0.0.1"},
		{"trusted v6 peer", "[2001:db8:ffff::1]:80", ratelimit.HeaderXForwardedFor, "198.51.100.1", "198.51.100.1"},
		{"mapped v4 peer", "[::ffff:203.0.113.9]:80", ratelimit.HeaderXForwardedFor, "198.51.100.1", "203.0.113.9"},
		{"peer without port", "203.0.113.9", ratelimit.HeaderXForwardedFor, "", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set(tt.header, tt.value)
			}
			got, ok := ratelimit.ClientIP(tt.peer, h, tt.header, proxies)
			assert.True(t, ok)
			assert.Equal(t, got.String(), tt.want)
		})
	}
}

// TestClientIPOnlyConfiguredHeader: behind a proxy that sets X-Forwarded-For,
// a client-supplied Forwarded or X-Real-IP is never read.
func TestClientIPOnlyConfiguredHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Forwarded", "for=6.6.6.6")
	h.Set("X-Real-IP", "6.6.6.7")
	h.Set("X-Forwarded-For", "198.51.100.1")
	got, _ := ratelimit.ClientIP("10.0.0.1:1", h, ratelimit.HeaderXForwardedFor, proxies)
	assert.Equal(t, got.String(), "198.51.100.1")
}

// TestClientIPHeaderNameCase: the header may be named in any case, and a
// name that is none of the three reads no header, X-Forwarded-For included,
// which a client behind a proxy that sets another header can write itself.
func TestClientIPHeaderNameCase(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Forwarded", "for=198.51.100.1")
	h.Set("X-Real-Ip", "198.51.100.2")
	h.Set("X-Forwarded-For", "6.6.6.6")
	for name, want := range map[string]string{
		"FORWARDED": "198.51.100.1", "forwarded": "198.51.100.1", "Forwarded": "198.51.100.1",
		"X-REAL-IP": "198.51.100.2", "x-real-ip": "198.51.100.2", "X-Real-IP": "198.51.100.2",
		"x-forwarded-for": "6.6.6.6", "": "6.6.6.6",
		"X-Client-IP": "10.0.0.1", "Forwarded-For": "10.0.0.1",
	} {
		got, ok := ratelimit.ClientIP("10.0.0.1:1", h, name, proxies)
		assert.True(t, ok, name)
		assert.Equal(t, got.String(), want, name)
	}
}

// TestClientIPMappedPrefix: a trusted prefix written in IPv4-mapped form
// holds the IPv4 addresses it maps, for ClientIP and for the keys.
func TestClientIPMappedPrefix(t *testing.T) {
	t.Parallel()
	mapped := []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}
	h := http.Header{"X-Forwarded-For": {"198.51.100.1, 10.9.9.9"}}
	got, _ := ratelimit.ClientIP("10.0.0.1:1", h, "", mapped)
	assert.Equal(t, got.String(), "198.51.100.1")
	got, _ = ratelimit.ClientIP("11.0.0.1:1", h, "", mapped)
	assert.Equal(t, got.String(), "11.0.0.1", "outside the mapped prefix")
	call := &ratelimit.Call{Header: h}
	call.SetPeer("10.0.0.1:1")
	key, _ := ratelimit.KeyIP(mapped...).AppendKey(nil, call)
	assert.Equal(t, string(key), "198.51.100.1")
}

func TestClientIPRepeatedLines(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7", "10.0.0.4"}}
	got, _ := ratelimit.ClientIP("10.0.0.1:1", h, "", proxies)
	assert.Equal(t, got.String(), "198.51.100.7")
}

func TestClientIPBadPeer(t *testing.T) {
	t.Parallel()
	_, ok := ratelimit.ClientIP("example.com:443", nil, "", proxies)
	assert.True(t, !ok)
}

func TestKeyIPFromPanicsOnUnknownHeader(t *testing.T) {
	t.Parallel()
	defer func() { assert.True(t, recover() != nil) }()
	ratelimit.KeyIPFrom("X-Client", proxies...)
}

// FuzzClientIP feeds arbitrary forwarding headers from a trusted and an
// untrusted peer: no panic, an untrusted peer is always its own address, and
// a trusted peer's answer is a valid address.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []string{
		"198.51.100.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", `for="[2001:db8::17]:4711";proto=https, for=10.0.0.3`,
		`for=unknown`, `for="\"`, `"",,,"`, `for=_x;by="a,\"b"`, "[::1", "1.2.3.4:99999", "[fe80::1%eth0]:1",
	} {
		f.Add(seed, ratelimit.HeaderXForwardedFor)
		f.Add(seed, ratelimit.HeaderForwarded)
		f.Add(seed, ratelimit.HeaderXRealIP)
	}
	f.Fuzz(func(t *testing.T, value, name string) {
		h := http.Header{}
		h.Add("Forwarded", value)
		h.Add("X-Forwarded-For", value)
		h.Add("X-Real-Ip", value)
		h.Add("X-Forwarded-For", value+","+value)
		got, ok := ratelimit.ClientIP("203.0.113.9:1", h, name, proxies)
		if !ok || got.String() != "203.0.113.9" {
			t.Fatalf("untrusted peer: got %v, %v", got, ok)
		}
		got, ok = ratelimit.ClientIP("10.0.0.1:1", h, name, proxies)
		if !ok || !got.IsValid() || got.Zone() != "" {
			t.Fatalf("trusted peer: got %v, %v", got, ok)
		}
		// The keys built on ClientIP: a spoofing client keeps its own key.
		for _, header := range []string{ratelimit.HeaderForwarded, ratelimit.HeaderXForwardedFor, ratelimit.HeaderXRealIP} {
			call := &ratelimit.Call{Header: h}
			call.SetPeer("203.0.113.9:1")
			key, ok := ratelimit.KeyIPFrom(header, proxies...).AppendKey(nil, call)
			if !ok || string(key) != "203.0.113.9" {
				t.Fatalf("untrusted peer, %s: key %q, %v", header, key, ok)
			}
		}
	})
}
