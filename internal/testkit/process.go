package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// freshEnv names the environment variable that tells a test binary it was
// started by [InFreshProcess], and for which test.
const freshEnv = "CONNECTWARE_FRESH_PROCESS"

// InFreshProcess runs the calling top-level test alone in a new process of
// the test binary, for tests of process-wide state that cannot be put back
// (OpenTelemetry's global delegates, for one), so that they hold with
// -count above one and in any order. In the process that runs the whole
// suite it runs the child, fails t if the child fails or does not run the
// test, and returns false: the caller returns at once. In the child it
// returns true and the test goes on.
func InFreshProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(freshEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), freshEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a fresh process: %v\n%s", t.Name(), err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s did not run in the fresh process:\n%s", t.Name(), out)
	}
	return false
}
