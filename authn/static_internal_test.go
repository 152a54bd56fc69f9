package authn

import (
	"strings"
	"testing"
)

// TestConstantTimeEqual compares constantTimeEqual with == for secrets and
// presented values of every length up to 40, equal, differing in each
// single byte (every bit of it), and prefixes or extensions of each other,
// so each 8-byte step and the byte tail are covered.
func TestConstantTimeEqual(t *testing.T) {
	t.Parallel()
	check := func(presented, secret string) {
		t.Helper()
		want := 0
		if presented == secret {
			want = 1
		}
		if got := constantTimeEqual(presented, []byte(secret)); got != want {
			t.Fatalf("constantTimeEqual(%q, %q) = %d, want %d", presented, secret, got, want)
		}
	}
	base := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"
	for m := 0; m <= 40; m++ {
		secret := base[:m]
		for n := 0; n <= 40; n++ {
			check(base[:n], secret)               // prefix, equal or extension
			check(strings.Repeat("x", n), secret) // unrelated
		}
		for i := range m {
			for bit := range 8 {
				b := []byte(secret)
				b[i] ^= 1 << bit
				check(string(b), secret)
			}
		}
	}
}
