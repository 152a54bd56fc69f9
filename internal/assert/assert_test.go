package assert_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/internal/assert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a testing.TB that records a failure and stops, as t.Fatalf.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func fails(check func(tb testing.TB)) (bool, string) {
	r := &recorder{}
	var wg sync.WaitGroup
	wg.Go(func() { check(r) })
	wg.Wait()
	return r.failed, r.msg
}

// TestAssertions: each assertion passes on what it promises and fails on
// everything else, so no test using it can pass by accident.
func TestAssertions(t *testing.T) {
	t.Parallel()
	permission := connect.NewError(connect.CodePermissionDenied, errors.New("no"))
	for name, tc := range map[string]struct {
		check func(tb testing.TB)
		fail  bool
	}{
		"equal":              {func(tb testing.TB) { assert.Equal(tb, []int{1}, []int{1}) }, false},
		"equal_differs":      {func(tb testing.TB) { assert.Equal(tb, []int{1}, []int{2}) }, true},
		"equal_nil_vs_empty": {func(tb testing.TB) { assert.Equal(tb, []int(nil), []int{}) }, true},
		"no_error":           {func(tb testing.TB) { assert.NoError(tb, nil) }, false},
		"no_error_fails":     {func(tb testing.TB) { assert.NoError(tb, errors.New("x")) }, true},
		"error":              {func(tb testing.TB) { assert.Error(tb, errors.New("x")) }, false},
		"error_fails":        {func(tb testing.TB) { assert.Error(tb, nil) }, true},
		"true":               {func(tb testing.TB) { assert.True(tb, true) }, false},
		"true_fails":         {func(tb testing.TB) { assert.True(tb, false) }, true},
		"code": {func(tb testing.TB) {
			assert.Code(tb, fmt.Errorf("wrapped: %w", permission), connect.CodePermissionDenied)
		}, false},
		"code_other":       {func(tb testing.TB) { assert.Code(tb, permission, connect.CodeInternal) }, true},
		"code_nil":         {func(tb testing.TB) { assert.Code(tb, nil, connect.CodeInternal) }, true},
		"code_not_connect": {func(tb testing.TB) { assert.Code(tb, errors.New("x"), connect.CodeUnknown) }, true},
		"contains":         {func(tb testing.TB) { assert.Contains(tb, "abc", "b") }, false},
		"contains_fails":   {func(tb testing.TB) { assert.Contains(tb, "abc", "d") }, true},
	} {
		failed, msg := fails(tc.check)
		assert.Equal(t, failed, tc.fail, name, msg)
	}
}

// TestMessage: extra arguments are printed with fmt, maps and all.
func TestMessage(t *testing.T) {
	t.Parallel()
	_, msg := fails(func(tb testing.TB) { assert.True(tb, false, "ctx", map[string]int{"a": 1}, 7) })
	assert.Contains(t, msg, "(ctx map[a:1] 7)")
}
