package ratelimit

import (
	"strconv"
	"strings"
	"testing"

	"github.com/connectware/connectware/internal/assert"
)

// TestKeyHashUsesEveryByte changes each byte of keys of every length up to
// 80 (every branch of keyHash.sum, and several rounds of its loop): each
// change must change the hash.
func TestKeyHashUsesEveryByte(t *testing.T) {
	t.Parallel()
	h := newKeyHash()
	for n := range 81 {
		key := []byte(strings.Repeat("k", n))
		base := h.sum(string(key))
		for i := range n {
			key[i] ^= 1
			assert.True(t, h.sum(string(key)) != base, "length "+strconv.Itoa(n)+": byte "+strconv.Itoa(i)+" is hashed")
			key[i] ^= 1
		}
		assert.Equal(t, h.sum(string(key)), base, "the same key, the same hash")
	}
	assert.True(t, h.sum("") != h.sum("\x00"), "the length is hashed")
}

// TestKeyHashSecrets checks that each Local draws its own secrets: one key
// hashes differently in two limiters, so a client cannot learn collisions
// from one process and use them against another.
func TestKeyHashSecrets(t *testing.T) {
	t.Parallel()
	a, b := NewLocal(Policy{Limit: 1}), NewLocal(Policy{Limit: 1})
	assert.True(t, a.hasher != b.hasher, "secrets differ")
	same := 0
	for i := range 100 {
		k := "client-" + strconv.Itoa(i)
		if a.hash(k) == b.hash(k) {
			same++
		}
	}
	assert.Equal(t, same, 0, "keys with the same hash in two limiters")
}

// TestKeyHashSpread hashes 64,000 addresses that differ only in their last
// digits, as a rotating attacker's or a subnet's do: both the high bits
// (which pick a shard) and the low bits (which pick a slot) must spread
// them evenly over 64 values.
func TestKeyHashSpread(t *testing.T) {
	t.Parallel()
	h := newKeyHash()
	var high, low [64]int
	const n = 64_000
	for i := range n {
		v := h.sum("10.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&0xff))
		high[v>>58]++
		low[v&63]++
	}
	// With an even spread each value gets 1,000 ± 32 (one standard
	// deviation); 1,200 or 800 is over six away.
	for i := range 64 {
		assert.True(t, high[i] > 800 && high[i] < 1200, "high bits "+strconv.Itoa(i)+": "+strconv.Itoa(high[i]))
		assert.True(t, low[i] > 800 && low[i] < 1200, "low bits "+strconv.Itoa(i)+": "+strconv.Itoa(low[i]))
	}
}
