package otelconnect

import (
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TestEntryCacheFastSlots checks the entry cache's pointer-keyed front
// with more procedures than slots (so slots collide) and with each
// procedure's name in two strings at different addresses: every lookup
// returns the entry of the procedure asked for, the same one each time.
func TestEntryCacheFastSlots(t *testing.T) {
	cfg := &config{conventions: ConventionsCurrent, meterProvider: metricnoop.NewMeterProvider()}
	for _, isClient := range []bool{false, true} {
		s, err := newSide(cfg, isClient, tracenoop.NewTracerProvider().Tracer(""), cfg.meterProvider.Meter(""))
		if err != nil {
			t.Fatal(err)
		}
		const n = 4 * fastSlots
		names := make([][2]string, n)
		for i := range names {
			name := "/pkg.Service/Method" + strconv.Itoa(i)
			names[i] = [2]string{name, strings.Clone(name)}
		}
		first := make([]*entry, n)
		for round := range 3 {
			for i, pair := range names {
				for _, procedure := range pair {
					for _, system := range []rpcSystem{systemConnect, systemGRPC} {
						e := s.entry(connect.Spec{Procedure: procedure, IsClient: isClient}, system, "10.0.0.1:443")
						if e.key.procedure != procedure || e.key.system != system {
							t.Fatalf("round %d: asked %s/%v, got %s/%v", round, procedure, system, e.key.procedure, e.key.system)
						}
						if system == systemGRPC {
							continue
						}
						if first[i] == nil {
							first[i] = e
						} else if e != first[i] {
							t.Fatalf("round %d: %s: a second entry", round, procedure)
						}
					}
				}
			}
		}
		filled := 0
		for i := range s.cache.fast {
			if s.cache.fast[i].Load() != nil {
				filled++
			}
		}
		if filled == 0 {
			t.Fatal("no fast slot filled")
		}
	}
}
