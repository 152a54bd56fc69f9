// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate_test

import (
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
	"github.com/connectware/connectware/validate"
)

// responseRules is a validator that also rejects every response carrying a
// number or sum of 3 or more (the test schema has no rules on most
// responses). Requests get protovalidate's usual treatment.
type responseRules struct{}

func (responseRules) Validate(msg proto.Message, opts ...protovalidate.ValidationOption) error {
	var n int64
	switch m := msg.(type) {
	case *testv1.PingResponse:
		n = m.GetNumber()
	case *testv1.SumResponse:
		n = m.GetSum()
	case *testv1.CountUpResponse:
		n = m.GetNumber()
	case *testv1.CumSumResponse:
		n = m.GetSum()
	default:
		return protovalidate.Validate(msg, opts...)
	}
	if n < 3 {
		return nil
	}
	// A genuine ValidationError: the one for a PingResponse out of range.
	return protovalidate.Validate(&testv1.PingResponse{Number: -n})
}

// TestResponses checks that with WithValidateResponses an invalid response
// fails with Internal (and a Violations detail), on handlers and on
// clients, for every RPC kind, and that without it responses pass.
func TestResponses(t *testing.T) {
	t.Parallel()
	strict := validate.NewInterceptor(validate.WithValidator(responseRules{}), validate.WithValidateResponses())
	lax := validate.NewInterceptor(validate.WithValidator(responseRules{}))
	mux := modeMux(strict, lax)
	testkit.Matrix(t, mux, func(t *testing.T, c testkit.Case) {
		for _, st := range testkit.StreamTypes() {
			if !testkit.SupportsStream(c.Network, st) {
				continue
			}
			name := testkit.StreamTypeName(st)
			t.Run(name+"/handler", func(t *testing.T) {
				ctx := testContext(t)
				_, _, err := testkit.Call(ctx, c.Client(), st, headerFor(modeStrict))
				assert.Code(t, err, connect.CodeInternal)
				assert.Equal(t, ruleIDs(t, err), []string{"int64.gte_lte"})
				_, _, err = testkit.Call(ctx, c.Client(), st, headerFor(modeLax))
				assert.NoError(t, err, "responses are not validated by default")
			})
			t.Run(name+"/client", func(t *testing.T) {
				ctx := testContext(t)
				_, _, err := testkit.Call(ctx, c.Client(connect.WithInterceptors(strict)), st, headerFor(modePlain))
				assert.Code(t, err, connect.CodeInternal)
				assert.Equal(t, ruleIDs(t, err), []string{"int64.gte_lte"})
				_, _, err = testkit.Call(ctx, c.Client(connect.WithInterceptors(lax)), st, headerFor(modePlain))
				assert.NoError(t, err, "responses are not validated by default")
			})
		}
	})
}
