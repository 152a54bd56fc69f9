package ratelimit_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/ratelimit"
)

func keyOf(t *testing.T, k ratelimit.Key, call *ratelimit.Call) (string, bool) {
	t.Helper()
	b, ok := k.AppendKey(nil, call)
	return string(b), ok
}

func newCall(ctx context.Context, peer string, h http.Header) *ratelimit.Call {
	c := &ratelimit.Call{Context: ctx, Procedure: "/svc/M", Header: h}
	c.SetPeer(peer)
	return c
}

func TestKeyIPGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	a, _ := keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "[2001:db8:1:2:aaaa::1]:443", nil))
	b, _ := keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "[2001:db8:1:2:bbbb::9]:443", nil))
	c, _ := keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "[2001:db8:1:3::1]:443", nil))
	assert.Equal(t, a, "2001:db8:1:2::")
	assert.Equal(t, a, b)
	assert.True(t, a != c)
	v4, _ := keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "203.0.113.9:1", nil))
	assert.Equal(t, v4, "203.0.113.9")
	host, ok := keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "api.example.com", nil))
	assert.True(t, ok)
	assert.Equal(t, host, "api.example.com", "clients key by server host")
	_, ok = keyOf(t, ratelimit.KeyIP(), newCall(context.Background(), "", nil))
	assert.True(t, !ok)
}

func TestKeyIPFromForwarded(t *testing.T) {
	t.Parallel()
	k := ratelimit.KeyIPFrom("forwarded", netip.MustParsePrefix("10.0.0.0/8"))
	h := http.Header{"Forwarded": {"for=198.51.100.4"}, "X-Forwarded-For": {"6.6.6.6"}}
	got, _ := keyOf(t, k, newCall(context.Background(), "10.1.1.1:80", h))
	assert.Equal(t, got, "198.51.100.4")
}

type subject struct{ id string }

func (s subject) RateLimitKey() string { return "sub:" + s.id }

func TestKeyIdentity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		info any
		want string
		ok   bool
	}{
		{"alice", "alice", true},
		{subject{"7"}, "sub:7", true},
		{netip.MustParseAddr("192.0.2.1"), "192.0.2.1", true}, // a fmt.Stringer
		{42, "", false},
		{nil, "", false},
	} {
		got, ok := keyOf(t, ratelimit.KeyIdentity(), newCall(authn.SetInfo(context.Background(), tc.info), "", nil))
		assert.Equal(t, ok, tc.ok, tc.info)
		assert.Equal(t, got, tc.want)
	}
	custom := ratelimit.KeyIdentityFunc(func(info any) string { return strings.ToUpper(info.(string)) })
	got, _ := keyOf(t, custom, newCall(authn.SetInfo(context.Background(), "bob"), "", nil))
	assert.Equal(t, got, "BOB")
	_, ok := keyOf(t, ratelimit.KeyIdentity(), &ratelimit.Call{})
	assert.True(t, !ok, "no context")
}

func TestKeyJoinIsUnambiguous(t *testing.T) {
	t.Parallel()
	k := ratelimit.KeyJoin(ratelimit.KeyHeader("A"), ratelimit.KeyHeader("B"))
	x, ok := keyOf(t, k, newCall(context.Background(), "", http.Header{"A": {"a|b"}, "B": {"c"}}))
	assert.True(t, ok)
	y, _ := keyOf(t, k, newCall(context.Background(), "", http.Header{"A": {"a"}, "B": {"b|c"}}))
	assert.True(t, x != y)
	_, ok = keyOf(t, k, newCall(context.Background(), "", http.Header{"A": {"a"}}))
	assert.True(t, !ok, "a missing part means no key")
}

func TestKeyFirst(t *testing.T) {
	t.Parallel()
	k := ratelimit.KeyFirst(ratelimit.KeyIdentity(), ratelimit.KeyIP())
	anon, ok := keyOf(t, k, newCall(context.Background(), "203.0.113.9:1", nil))
	assert.True(t, ok)
	user, _ := keyOf(t, k, newCall(authn.SetInfo(context.Background(), "203.0.113.9"), "203.0.113.9:1", nil))
	assert.True(t, anon != user, "an identity never shares a bucket with a look-alike address")
	_, ok = keyOf(t, ratelimit.KeyFirst(ratelimit.KeyHeader("X")), newCall(context.Background(), "", http.Header{}))
	assert.True(t, !ok)
}

func TestKeyProcedureAndGlobal(t *testing.T) {
	t.Parallel()
	got, _ := keyOf(t, ratelimit.KeyProcedure(), newCall(context.Background(), "", nil))
	assert.Equal(t, got, "/svc/M")
	got, ok := keyOf(t, ratelimit.KeyGlobal(), newCall(context.Background(), "", nil))
	assert.True(t, ok)
	assert.Equal(t, got, "")
}

// TestKeyPartsWithoutKey: a part of KeyJoin or KeyFirst that has no key may
// return any slice, nil included: the combination must not panic, KeyJoin
// then has no key, and KeyFirst goes on to the next alternative.
func TestKeyPartsWithoutKey(t *testing.T) {
	t.Parallel()
	none := ratelimit.KeyFunc(func([]byte, *ratelimit.Call) ([]byte, bool) { return nil, false })
	call := &ratelimit.Call{Procedure: "/a.B/C", Header: http.Header{}}
	_, ok := ratelimit.KeyJoin(ratelimit.KeyProcedure(), none).AppendKey(nil, call)
	assert.True(t, !ok, "a join with a part without a key has none")
	got, ok := ratelimit.KeyFirst(none, ratelimit.KeyProcedure()).AppendKey(nil, call)
	assert.True(t, ok, "the next alternative")
	assert.Equal(t, string(got), "\x01/a.B/C", "the second alternative, tagged")
}
