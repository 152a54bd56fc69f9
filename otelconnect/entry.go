package otelconnect

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// entryKey identifies the calls that share attributes: same procedure, RPC
// system and (on clients) server address.
type entryKey struct {
	procedure string
	address   string
	system    rpcSystem
}

// entry holds everything about a procedure that does not change from call
// to call, computed once: the span name, the span start options, the metric
// attribute sets and their record options, one per outcome.
type entry struct {
	side *side
	spec connect.Spec
	name string
	key  entryKey
	// startOptions start a span: its kind, and with
	// WithSpanStartAttributes its request attributes. Otherwise the span's
	// attributes are all set when it ends, in one batch (see
	// outcomeEntry.spanAttributes): giving them to Start costs a copy and
	// an allocation more.
	startOptions []trace.SpanStartOption
	// startAttributes are the request attributes in startOptions (with
	// WithSpanStartAttributes).
	startAttributes []attribute.KeyValue
	// metricAttributes are the request attributes of the current (and old)
	// metrics, for the in-flight counter and to merge a Labeler's.
	metricAttributes    []attribute.KeyValue
	oldMetricAttributes []attribute.KeyValue
	// activeOptions observe the in-flight counter for this entry's calls,
	// which active counts while cached says the entry is in the cache (and
	// so observed); the calls of entries left out of a full cache are
	// counted in side.overflowActive.
	activeOptions []metric.ObserveOption
	active        atomic.Int64
	cached        bool
	// oldSizeOptions record the old size histograms, which have the request
	// attributes only.
	oldSizeOptions []metric.RecordOption
	outcomes       [numOutcomes]atomic.Pointer[outcomeEntry]
}

// outcomeEntry holds a procedure's attributes for one outcome.
type outcomeEntry struct {
	// spanAttributes are set on the span when the call ends: the request
	// and the outcome attributes.
	spanAttributes []attribute.KeyValue
	// metricAttributes are the complete attributes of the current metrics,
	// and recordOptions records them.
	metricAttributes []attribute.KeyValue
	recordOptions    []metric.RecordOption
	// oldMetricAttributes and oldRecordOptions are those of the old
	// metrics.
	oldMetricAttributes []attribute.KeyValue
	oldRecordOptions    []metric.RecordOption
}

// maxEntries bounds the cache: past it, entries are computed per call and
// not kept (a client calling ever new addresses, say).
const maxEntries = 4096

// fastSlots is the size of entryCache's direct-mapped front.
const fastSlots = 256

// entryCache maps entryKey to *entry. Reads are lock-free: the map is
// replaced, never changed, under mu.
//
// In front of the map, fast holds recently used entries in slots chosen by
// the address of the procedure string's bytes. connect-go hands every call
// of a procedure the same string (it lives in the handler's or client's
// Spec), so a hit costs comparing a pointer and a length instead of hashing
// the key. Strings with the same bytes at the same address are equal, so a
// hit is always right; a miss falls back to the map. A slot is filled once,
// by the first entry found for it whose own string is the caller's, and
// never rewritten: procedures that share a slot cost no writes, they use
// the map.
type entryCache struct {
	mu      sync.Mutex
	entries atomic.Pointer[map[entryKey]*entry]
	fast    [fastSlots]atomic.Pointer[entry]
	limit   int // at most this many entries (maxEntries; tests set less)
}

func (c *entryCache) load(key entryKey) *entry {
	p := uintptr(unsafe.Pointer(unsafe.StringData(key.procedure)))
	slot := &c.fast[(p>>3^p>>9)%fastSlots]
	if e := slot.Load(); e != nil && len(e.key.procedure) == len(key.procedure) &&
		unsafe.StringData(e.key.procedure) == unsafe.StringData(key.procedure) &&
		e.key.system == key.system && e.key.address == key.address {
		return e
	}
	m := c.entries.Load()
	if m == nil {
		return nil
	}
	e := (*m)[key]
	if e != nil && unsafe.StringData(e.key.procedure) == unsafe.StringData(key.procedure) && slot.Load() == nil {
		slot.CompareAndSwap(nil, e)
	}
	return e
}

func (c *entryCache) store(key entryKey, e *entry) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.entries.Load()
	var size int
	if old != nil {
		if existing, ok := (*old)[key]; ok {
			return existing
		}
		size = len(*old)
	}
	if size >= c.limit {
		return e
	}
	m := make(map[entryKey]*entry, size+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	e.cached = true
	m[key] = e
	c.entries.Store(&m)
	return e
}

// entry returns the entry of a call, computing it on first use.
func (s *side) entry(spec connect.Spec, system rpcSystem, address string) *entry {
	if !s.isClient {
		address = ""
	}
	key := entryKey{procedure: spec.Procedure, address: address, system: system}
	if e := s.cache.load(key); e != nil {
		return e
	}
	return s.cache.store(key, s.newEntry(key, spec))
}

func (s *side) newEntry(key entryKey, spec connect.Spec) *entry {
	cfg := s.cfg
	e := &entry{side: s, spec: spec, key: key, name: procedureName(key.procedure)}
	if s.conv.current() {
		e.metricAttributes = filterAttributes(spec, requestAttributes(key.system, e.name, s.isClient, key.address), cfg.attributeFilter, cfg.metricAttributeFilter)
	}
	if s.conv.old() {
		e.oldMetricAttributes = filterAttributes(spec, oldRequestAttributes(key.system, e.name, s.isClient, key.address), cfg.attributeFilter, cfg.metricAttributeFilter)
	}
	e.startOptions = []trace.SpanStartOption{s.spanKind}
	if cfg.startAttributes {
		e.startAttributes = e.spanRequestAttributes()
		if len(e.startAttributes) > 0 {
			e.startOptions = append(e.startOptions, trace.WithAttributes(e.startAttributes...))
		}
	}
	if s.conv.old() {
		e.oldSizeOptions = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(e.oldMetricAttributes...))}
	}
	switch {
	case s.conv.current():
		e.activeOptions = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(e.metricAttributes...))}
	case s.conv.old():
		e.activeOptions = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(e.oldMetricAttributes...))}
	}
	return e
}

// outcome returns the attributes of the entry's calls that end with o.
func (e *entry) outcome(o outcome) *outcomeEntry {
	if oe := e.outcomes[o].Load(); oe != nil {
		return oe
	}
	oe := e.newOutcome(o)
	if e.outcomes[o].CompareAndSwap(nil, oe) {
		return oe
	}
	return e.outcomes[o].Load()
}

func (e *entry) newOutcome(o outcome) *outcomeEntry {
	s, cfg := e.side, e.side.cfg
	oe := &outcomeEntry{}
	// The span's request attributes go with its outcome's, unless they
	// were given to Start (see WithSpanStartAttributes).
	withRequest := !cfg.startAttributes
	var spanAttrs []attribute.KeyValue
	if s.conv.current() {
		status := statusAttributes(o)
		attrs := append(append(make([]attribute.KeyValue, 0, len(e.metricAttributes)+len(status)), e.metricAttributes...),
			filterAttributes(e.spec, statusAttributes(o), cfg.attributeFilter, cfg.metricAttributeFilter)...)
		oe.metricAttributes = attrs
		oe.recordOptions = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
		if withRequest {
			spanAttrs = append(requestAttributes(e.key.system, e.name, s.isClient, e.key.address), status...)
		} else {
			spanAttrs = status
		}
	}
	if s.conv.old() {
		status := oldStatusAttributes(e.key.system, o)
		attrs := append(append(make([]attribute.KeyValue, 0, len(e.oldMetricAttributes)+len(status)), e.oldMetricAttributes...),
			filterAttributes(e.spec, oldStatusAttributes(e.key.system, o), cfg.attributeFilter, cfg.metricAttributeFilter)...)
		oe.oldMetricAttributes = attrs
		oe.oldRecordOptions = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
		if withRequest {
			status = append(oldRequestAttributes(e.key.system, e.name, s.isClient, e.key.address), status...)
		}
		spanAttrs = mergeSpanAttributes(status, spanAttrs)
	}
	oe.spanAttributes = filterAttributes(e.spec, spanAttrs, cfg.attributeFilter, cfg.spanAttributeFilter)
	return oe
}

// spanRequestAttributes returns the request attributes of the entry's
// spans, in the conventions it records, filtered for spans.
func (e *entry) spanRequestAttributes() []attribute.KeyValue {
	s, cfg := e.side, e.side.cfg
	var attrs []attribute.KeyValue
	if s.conv.current() {
		attrs = requestAttributes(e.key.system, e.name, s.isClient, e.key.address)
	}
	if s.conv.old() {
		attrs = mergeSpanAttributes(oldRequestAttributes(e.key.system, e.name, s.isClient, e.key.address), attrs)
	}
	return filterAttributes(e.spec, attrs, cfg.attributeFilter, cfg.spanAttributeFilter)
}
