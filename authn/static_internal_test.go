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

func BenchmarkConstantTimeEqual(b *testing.B) {
	secret := []byte("tok_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	presented := string(secret)
	for b.Loop() {
		if constantTimeEqual(presented, secret) != 1 {
			b.Fatal("unequal")
		}
	}
}

// TestComparisonNoEarlyExit: comparing a presented token with a stored one
// takes the same steps whatever is presented (nothing, one byte, a token
// wrong in its first or last byte, the right one, a longer one): the
// number depends on the stored token's length alone, so the time cannot
// tell how much of a guess was right.
func TestComparisonNoEarlyExit(t *testing.T) {
	t.Parallel()
	for _, m := range []int{0, 1, 7, 8, 9, 31, 32, 72, 1000} {
		secret := []byte(strings.Repeat("s", m))
		want := m/8 + m%8
		presented := map[string]string{
			"empty":       "",
			"one byte":    "s",
			"first wrong": "x" + string(secret[min(1, m):]),
			"right":       string(secret),
			"longer":      string(secret) + "s",
			"much longer": strings.Repeat("s", 2*m+9),
		}
		if m > 0 {
			presented["last wrong"] = string(secret[:m-1]) + "x"
		}
		for name, p := range presented {
			if _, steps := compareSecret(p, secret); steps != want {
				t.Errorf("secret of %d bytes, %s presented: %d steps, want %d", m, name, steps, want)
			}
		}
	}
}
