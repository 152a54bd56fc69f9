package depcheck_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const module = "github.com/connectware/connectware"

// heavy names the dependencies that belong to one package's job, by import
// path prefix. A package may import one only when allowed lists it.
var heavy = []string{
	"go.opentelemetry.io/",
	"github.com/prometheus/",
	"github.com/redis/",
	"google.golang.org/grpc",
	"buf.build/go/protovalidate",
	"cel.dev/",
	"github.com/go-jose/",
	"github.com/rs/cors",
	"github.com/chromedp/",
	"go.uber.org/goleak",
	module + "/internal/testkit",
	module + "/internal/browser",
	module + "/internal/assert",
	module + "/internal/gen",
}

// allowed lists, per package (relative to the module), the heavy
// dependencies its job needs. Any package not listed may import none.
var allowed = map[string][]string{
	"cors":            {"github.com/rs/cors"},
	"otelconnect":     {"go.opentelemetry.io/"},
	"ratelimit/redis": {"github.com/redis/"},
	"validate":        {"buf.build/go/protovalidate", "cel.dev/"},
	"authn/jwt":       {"github.com/go-jose/"},
}

// TestPackagesStandAlone runs `go list -deps` on every library package of
// the module (not examples/ or internal/) and fails when one pulls in
// another package's dependencies.
func TestPackagesStandAlone(t *testing.T) {
	deps := goList(t)
	checked := 0
	for pkg, list := range deps {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		if rel == "" || strings.HasPrefix(rel, "examples/") || strings.HasPrefix(rel, "internal/") || strings.Contains(rel, "/internal/") {
			continue
		}
		checked++
		for _, dep := range list {
			for _, h := range heavy {
				if strings.HasPrefix(dep, h) && !hasPrefix(allowed[rel], dep) {
					t.Errorf("%s imports %s (directly or not): it belongs to another package's job", rel, dep)
				}
			}
		}
	}
	if checked < len(allowed) {
		t.Fatalf("checked %d packages, want at least %d: is go list working?", checked, len(allowed))
	}
}

// TestCORSDependencies: the cors package needs nothing but the standard
// library and github.com/rs/cors, not even connect-go.
func TestCORSDependencies(t *testing.T) {
	list, ok := goList(t)[module+"/cors"]
	if !ok {
		t.Fatal("cors not listed")
	}
	for _, dep := range list {
		if strings.Contains(strings.Split(dep, "/")[0], ".") && !strings.HasPrefix(dep, "github.com/rs/cors") {
			t.Errorf("cors imports %s", dep)
		}
	}
}

func hasPrefix(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// goList maps each package of the module to its transitive non-test
// dependencies.
func goList(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			deps[fields[0]] = fields[1:]
		}
	}
	return deps
}
