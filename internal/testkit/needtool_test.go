package testkit_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// needTool runs testkit.NeedTool in its own goroutine, as the testing
// package runs a test, so that Fatalf and Skipf can stop it.
func needTool(name string) (path string, r *recorder) {
	r = &recorder{}
	var wg sync.WaitGroup
	wg.Go(func() { path = testkit.NeedTool(r, name, "install it") })
	wg.Wait()
	return path, r
}

// TestNeedToolFailsInCI: a missing tool fails the test when CI=true, and
// is skipped (never passed) elsewhere.
func TestNeedToolFailsInCI(t *testing.T) {
	const missing = "connectware-no-such-tool"
	t.Setenv("CI", "true")
	_, r := needTool(missing)
	assert.True(t, r.failed && !r.skipped, "CI=true must fail", r.msg)
	assert.Contains(t, r.msg, missing)

	t.Setenv("CI", "")
	_, r = needTool(missing)
	assert.True(t, r.skipped && !r.failed, "outside CI a missing tool is a skip", r.msg)

	t.Setenv("CI", "true")
	path, r := needTool("go")
	assert.True(t, !r.failed && !r.skipped && path != "", "go is on PATH in tests", r.msg)
}
