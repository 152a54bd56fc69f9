package otelconnect

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TestEntryCacheFastSlots checks the entry cache's pointer-keyed front
// with more procedures than slots (so slots collide) and with each
// procedure's name in two strings at different addresses: every lookup
// returns the entry of the procedure asked for, the same one each time.
func TestEntryCacheFastSlots(t *testing.T) {
	cfg := &config{conventions: ConventionsCurrent, meterProvider: metricnoop.NewMeterProvider()}
	for _, isClient := range []bool{false, true} {
		s, err := newSideWith(cfg, isClient, tracenoop.NewTracerProvider().Tracer(""), cfg.meterProvider.Meter(""))
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

// TestInFlightOverflow checks that the calls in flight of entries a full
// cache leaves out are observed too, as one series marked
// otel.metric.overflow, like the SDK's own cardinality overflow.
func TestInFlightOverflow(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	cfg := &config{conventions: ConventionsCurrent, meterProvider: mp, inFlight: true}
	s, err := newSideWith(cfg, true, tracenoop.NewTracerProvider().Tracer(""), mp.Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	s.cache.limit = 2
	spec := connect.Spec{Procedure: "/pkg.Service/Method", IsClient: true}
	var calls []*call
	for i := range 5 { // two cached addresses, three left out
		c := &call{side: s, entry: s.entry(spec, systemConnect, "10.0.0."+strconv.Itoa(i)+":443")}
		c.addActive(1)
		calls = append(calls, c)
	}
	read := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "rpc.client.active_calls" {
					continue
				}
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					key := "overflow"
					if v, ok := p.Attributes.Value("server.address"); ok {
						key = v.AsString()
					} else if v, _ := p.Attributes.Value("otel.metric.overflow"); !v.AsBool() {
						t.Fatalf("a series without server.address or overflow: %v", p.Attributes.ToSlice())
					}
					out[key] += p.Value
				}
			}
		}
		return out
	}
	got := read()
	want := map[string]int64{"10.0.0.0": 1, "10.0.0.1": 1, "overflow": 3}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("in flight: got %v, want %v", got, want)
	}
	for _, c := range calls {
		c.addActive(-1)
	}
	got = read()
	want = map[string]int64{"10.0.0.0": 0, "10.0.0.1": 0, "overflow": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after: got %v, want %v", got, want)
	}
}
