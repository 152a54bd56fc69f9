package authn

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"
)

// TestBasicAuthUnknownUserCostsAHash: an unknown user name is hashed like
// a known one, with as many PBKDF2 iterations as the costliest stored
// hash, so the time a rejection takes does not say whether a user exists.
// Not parallel: it reads a package-wide counter.
func TestBasicAuthUnknownUserCostsAHash(t *testing.T) {
	cheap, err := HashSecret("pw", 1_000)
	if err != nil {
		t.Fatal(err)
	}
	costly, err := HashSecret("pw", 5_000)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := BasicAuth(map[string]string{"alice": cheap, "bob": costly})
	if err != nil {
		t.Fatal(err)
	}
	iterations := func(user string) int64 {
		t.Helper()
		req := &http.Request{Header: http.Header{"Authorization": {
			"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":wrong")),
		}}}
		before := pbkdf2Iterations.Load()
		if _, err := auth(context.Background(), req); err == nil {
			t.Fatalf("%s with a wrong password was accepted", user)
		}
		return pbkdf2Iterations.Load() - before
	}
	if got := iterations("alice"); got != 1_000 {
		t.Errorf("alice: %d iterations, want her hash's 1000", got)
	}
	if got := iterations("bob"); got != 5_000 {
		t.Errorf("bob: %d iterations, want his hash's 5000", got)
	}
	if got := iterations("mallory"); got != 5_000 {
		t.Errorf("unknown user: %d iterations, want the costliest hash's 5000", got)
	}
}
