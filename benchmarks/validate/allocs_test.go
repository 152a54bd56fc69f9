// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

// The race detector changes allocation counts (sync.Pool drops items at
// random), so this file is built only without it.

//go:build !race

package validate_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	official "connectrpc.com/validate"

	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/validate"
)

// TestAllocs holds the handler-side unary path to the allocations of
// connectrpc.com/validate v0.9.0 for the same call, as the benchmarks
// measure it, and to the budgets (17 for a valid request, 56 for
// one with three violations). Allocation counts, unlike times, are exact,
// so this runs in every test run; the times are compared by the benchmarks.
func TestAllocs(t *testing.T) {
	response := connect.NewResponse(&testv1.PingResponse{Number: 42})
	handler := connect.UnaryFunc(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return response, nil
	})
	allocs := func(call connect.UnaryFunc, msg *testv1.PingRequest) float64 {
		_, _ = call(context.Background(), connect.NewRequest(msg)) // compile the rules
		return testing.AllocsPerRun(200, func() {
			_, _ = call(context.Background(), connect.NewRequest(msg))
		})
	}
	ours := validate.NewInterceptor().WrapUnary(handler)
	theirs := official.NewInterceptor().WrapUnary(handler)
	for _, tc := range []struct {
		name   string
		msg    *testv1.PingRequest
		budget float64
	}{
		{"valid", validPing(), 17},
		{"invalid", invalidPing(), 56},
	} {
		o, th := allocs(ours, tc.msg), allocs(theirs, tc.msg)
		t.Logf("%s request: connectware %v allocs, official %v", tc.name, o, th)
		if o > th {
			t.Errorf("%s request: %v allocs, more than the official %v", tc.name, o, th)
		}
		if o > tc.budget {
			t.Errorf("%s request: %v allocs, over the budget of %v", tc.name, o, tc.budget)
		}
	}
}
