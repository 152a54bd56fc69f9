package jwt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/connectware/connectware/authn/jwt"
)

// FuzzVerify feeds arbitrary tokens to a Verifier: it must never panic, and
// every failure must be the same clean Unauthenticated error.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	c := newClock()
	now := c.Now()
	valid := sign(f, jose.RS256, "rsa-1", rsaKey, claimsAt(now, "alice"))
	for _, seed := range []string{
		valid, valid[:len(valid)-2], "", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.",
		sign(f, jose.ES256, "ec-1", ecKey, claimsAt(now, "bob")),
		sign(f, jose.EdDSA, "ed-1", edKey, claimsAt(now, "carol")),
		strings.Replace(valid, ".", "..", 1),
	} {
		f.Add(seed)
	}
	srv := newJWKSServer(f, public("rsa-1", "RS256", rsaKey), public("ec-1", "ES256", ecKey), public("ed-1", "EdDSA", edKey))
	keys, err := jwt.NewJWKS(srv.URL, jwt.WithHTTPClient(srv.Client()), jwt.WithRefreshInterval(0),
		jwt.WithRefetchInterval(time.Hour), jwt.WithJWKSClock(c.Now))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = keys.Close() })
	v, err := jwt.NewVerifier(keys, []string{"RS256", "ES256", "EdDSA"}, jwt.WithClock(c.Now), jwt.WithIssuer(issuer), jwt.WithAudience(audience))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		if err == nil {
			if claims == nil || claims.Issuer != issuer {
				t.Fatalf("accepted %q with claims %+v", token, claims)
			}
			return
		}
		if connect.CodeOf(err) != connect.CodeUnauthenticated || err.Error() != "unauthenticated: invalid credentials" {
			t.Fatalf("unclean error for %q: %v", token, err)
		}
	})
}
