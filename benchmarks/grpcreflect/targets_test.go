//go:build !race

// The race detector changes allocation counts, so these checks run only in
// normal builds (as `make bench-smoke` runs them).

package grpcreflect_test

import (
	"runtime"
	"testing"

	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// cost is the average allocations and bytes of one in-process reflection
// stream, as the benchmarks run it.
type cost struct {
	allocs, bytes float64
}

func measure(t *testing.T, im impl, frame []byte) cost {
	t.Helper()
	w := &discard{}
	serve(im.handler, im.path, frame, w) // warm caches
	if w.status != 0 && w.status != 200 {
		t.Fatalf("%s: status %d", im.name, w.status)
	}
	const runs = 50
	allocs := testing.AllocsPerRun(runs, func() { serve(im.handler, im.path, frame, w) })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		serve(im.handler, im.path, frame, w)
	}
	runtime.ReadMemStats(&after)
	return cost{allocs: allocs, bytes: float64(after.TotalAlloc-before.TotalAlloc) / runs}
}

// TestAllocationTargets holds the targets for allocations and
// bytes, which don't depend on the machine: FileContainingSymbol for a
// service whose file imports validate.proto at most 1/20 of the official
// package's, ListServices at most the official's. Time is compared by the
// benchmarks.
func TestAllocationTargets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		frame   []byte
		divisor float64
	}{
		{"FileContainingSymbol", request(fieldFileContainingSymbol, testv1connect.TestServiceName), 20},
		{"ListServices", request(fieldListServices, ""), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := impls(t, [][]byte{[]byte("x")})
			ours, theirs := measure(t, all[0], tc.frame), measure(t, all[1], tc.frame)
			t.Logf("connectware %.0f allocs %.0f B, official %.0f allocs %.0f B", ours.allocs, ours.bytes, theirs.allocs, theirs.bytes)
			if ours.allocs > theirs.allocs/tc.divisor {
				t.Errorf("%.0f allocs per call, want at most %.0f (official %.0f / %.0f)", ours.allocs, theirs.allocs/tc.divisor, theirs.allocs, tc.divisor)
			}
			if ours.bytes > theirs.bytes/tc.divisor {
				t.Errorf("%.0f bytes per call, want at most %.0f (official %.0f / %.0f)", ours.bytes, theirs.bytes/tc.divisor, theirs.bytes, tc.divisor)
			}
		})
	}
}
