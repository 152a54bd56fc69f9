package testkit

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
)

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// InCI reports whether the tests run in CI (CI=true), where a missing tool
// is a failure, never a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedTool returns the path of the named executable. When it cannot be found
// the test fails in CI and is skipped elsewhere (with a message saying how to
// install it).
func NeedTool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if InCI() {
		tb.Fatalf("%s not found (CI=true, so this fails): %s", name, install)
	}
	tb.Skipf("%s not found: %s", name, install)
	return ""
}
