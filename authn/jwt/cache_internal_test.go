package jwt

import (
	"strconv"
	"testing"
	"time"
)

// TestCacheBounded checks the verified-token cache never grows past its
// size and drops expired entries first.
func TestCacheBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{cacheSize: 3, cache: map[string]cacheEntry{}}
	v.remember("expired-soon", expiring(now.Add(time.Second)), now)
	for i := range 10 {
		v.remember("t"+strconv.Itoa(i), expiring(now.Add(time.Hour)), now)
		if len(v.cache) > 3 {
			t.Fatalf("cache holds %d entries, bound is 3", len(v.cache))
		}
	}
	if _, ok := v.cache["t9"]; !ok {
		t.Fatal("newest entry missing")
	}
	v2 := &Verifier{cacheSize: 2, cache: map[string]cacheEntry{}}
	v2.remember("old", expiring(now.Add(time.Second)), now)
	v2.remember("keep", expiring(now.Add(time.Hour)), now)
	later := now.Add(time.Minute)
	v2.remember("new", expiring(later.Add(time.Hour)), later)
	if _, ok := v2.cache["keep"]; !ok {
		t.Fatal("evicted a live entry while an expired one was there")
	}
	if _, ok := v2.cache["old"]; ok {
		t.Fatal("expired entry kept")
	}
	v2.remember("dead", expiring(now), later)
	if _, ok := v2.cache["dead"]; ok {
		t.Fatal("cached an expired token")
	}
}

// expiring is a cache entry for a token that expires at t.
func expiring(t time.Time) cacheEntry { return cacheEntry{claims: &Claims{Expiry: t}, expires: t} }
