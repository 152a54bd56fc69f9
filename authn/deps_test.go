package authn_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/connectware/connectware/internal/testkit"
)

// TestNoJWTDependency checks that importing authn pulls in no JWT library
// (nor the rate limiter the JWKS cache uses): they belong to authn/jwt
// alone, which must depend on them (the control that the check sees them).
func TestNoJWTDependency(t *testing.T) {
	t.Parallel()
	goTool := testkit.NeedTool(t, "go", "install Go from https://go.dev/dl/")
	deps := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	forbidden := []string{"github.com/go-jose/", "golang.org/x/time/", "golang.org/x/oauth2"}
	has := func(list []string, prefix string) bool {
		for _, p := range list {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	}
	authnDeps := deps("github.com/connectware/connectware/authn")
	for _, prefix := range forbidden {
		if has(authnDeps, prefix) {
			t.Errorf("authn depends on %s", prefix)
		}
	}
	jwtDeps := deps("github.com/connectware/connectware/authn/jwt")
	for _, prefix := range forbidden[:2] {
		if !has(jwtDeps, prefix) {
			t.Errorf("authn/jwt does not depend on %s: the check cannot see it", prefix)
		}
	}
}
