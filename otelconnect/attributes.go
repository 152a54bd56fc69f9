package otelconnect

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	oldsemconv "go.opentelemetry.io/otel/semconv/v1.21.0"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// AttributeFilter decides whether an attribute is kept (true) or dropped
// (false) for a call with the given spec. It must be safe to call
// concurrently.
type AttributeFilter func(connect.Spec, attribute.KeyValue) bool

// Attribute keys of the old conventions, as otelconnect up to v0.9
// emitted them (semconv v1.21).
const (
	oldSystemKey         = oldsemconv.RPCSystemKey
	oldServiceKey        = oldsemconv.RPCServiceKey
	oldMethodKey         = oldsemconv.RPCMethodKey
	oldGRPCStatusKey     = oldsemconv.RPCGRPCStatusCodeKey
	oldConnectErrorKey   = oldsemconv.RPCConnectRPCErrorCodeKey
	oldPeerNameKey       = oldsemconv.NetPeerNameKey
	oldPeerPortKey       = oldsemconv.NetPeerPortKey
	oldHTTPStatusCodeKey = oldsemconv.HTTPStatusCodeKey
)

// rpcSystem is the RPC system a call reports.
type rpcSystem uint8

const (
	systemConnect rpcSystem = iota
	systemGRPC
	numSystems
)

// systemOf maps a connect-go protocol name to the RPC system the
// conventions use: gRPC-Web is gRPC. forced, when not nil, wins.
func systemOf(protocol string, forced RPCSystem) rpcSystem {
	if forced != nil {
		return forced.system()
	}
	switch protocol {
	case connect.ProtocolGRPC, connect.ProtocolGRPCWeb:
		return systemGRPC
	}
	return systemConnect
}

// name is rpc.system.name.
func (s rpcSystem) name() string {
	if s == systemGRPC {
		return "grpc"
	}
	return "connectrpc"
}

// oldName is the old rpc.system.
func (s rpcSystem) oldName() string {
	if s == systemGRPC {
		return "grpc"
	}
	return "connect_rpc"
}

// procedureName is the procedure without its leading slash, the span name
// and the current rpc.method.
func procedureName(procedure string) string {
	return strings.TrimLeft(procedure, "/")
}

// splitProcedure splits "pkg.Service/Method" for the old rpc.service and
// rpc.method. A name without a slash is all method.
func splitProcedure(name string) (service, method string) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// splitAddress splits host:port; port is -1 when there is none.
func splitAddress(address string) (host string, port int) {
	if h, p, err := net.SplitHostPort(address); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return h, n
		}
	}
	return address, -1
}

func appendAddress(attrs []attribute.KeyValue, address string, hostKey, portKey attribute.Key) []attribute.KeyValue {
	if address == "" {
		return attrs
	}
	host, port := splitAddress(address)
	attrs = append(attrs, hostKey.String(host))
	if port >= 0 {
		attrs = append(attrs, portKey.Int(port))
	}
	return attrs
}

// requestAttributes are the attributes known when a call starts, under the
// current conventions.
func requestAttributes(system rpcSystem, name string, isClient bool, address string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		semconv.RPCSystemNameKey.String(system.name()),
		semconv.RPCMethodKey.String(name),
	)
	if isClient {
		attrs = appendAddress(attrs, address, semconv.ServerAddressKey, semconv.ServerPortKey)
	}
	return attrs
}

// oldRequestAttributes are the attributes known when a call starts, under
// the old conventions.
func oldRequestAttributes(system rpcSystem, name string, isClient bool, address string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, oldSystemKey.String(system.oldName()))
	service, method := splitProcedure(name)
	if service != "" {
		attrs = append(attrs, oldServiceKey.String(service))
	}
	if method != "" {
		attrs = append(attrs, oldMethodKey.String(method))
	}
	if isClient {
		attrs = appendAddress(attrs, address, oldPeerNameKey, oldPeerPortKey)
	}
	return attrs
}

// statusAttributes are the outcome's attributes under the current
// conventions: rpc.response.status_code always, error.type on failure, and
// http.response.status_code 304 for Connect's "not modified".
func statusAttributes(o outcome) []attribute.KeyValue {
	switch {
	case o == outcomeNotModified:
		return []attribute.KeyValue{
			semconv.RPCResponseStatusCodeKey.String(o.statusCode()),
			semconv.HTTPResponseStatusCodeKey.Int(http.StatusNotModified),
		}
	case o.failed():
		return []attribute.KeyValue{
			semconv.RPCResponseStatusCodeKey.String(o.statusCode()),
			semconv.ErrorTypeKey.String(o.statusCode()),
		}
	}
	return []attribute.KeyValue{semconv.RPCResponseStatusCodeKey.String(o.statusCode())}
}

// oldStatusAttributes are the outcome's attributes under the old
// conventions: the integer rpc.grpc.status_code for gRPC (0 on success),
// rpc.connect_rpc.error_code for failed Connect calls, and http.status_code
// 304 for "not modified".
func oldStatusAttributes(system rpcSystem, o outcome) []attribute.KeyValue {
	if o == outcomeNotModified {
		return []attribute.KeyValue{oldHTTPStatusCodeKey.Int(http.StatusNotModified)}
	}
	if system == systemGRPC {
		return []attribute.KeyValue{oldGRPCStatusKey.Int64(o.grpcStatusCode())}
	}
	if o.failed() {
		return []attribute.KeyValue{oldConnectErrorKey.String(o.code().String())}
	}
	return nil
}

// mergeSpanAttributes merges old and current attributes for spans under
// ConventionsDup: the current value wins when a key is in both (rpc.method
// is then the fully-qualified name).
func mergeSpanAttributes(old, current []attribute.KeyValue) []attribute.KeyValue {
	merged := make([]attribute.KeyValue, 0, len(old)+len(current))
	for _, kv := range old {
		if !hasKey(current, kv.Key) {
			merged = append(merged, kv)
		}
	}
	return append(merged, current...)
}

func hasKey(attrs []attribute.KeyValue, key attribute.Key) bool {
	for _, kv := range attrs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// filterAttributes keeps the attributes every non-nil filter keeps. It
// filters in place and returns the shortened slice.
func filterAttributes(spec connect.Spec, attrs []attribute.KeyValue, filters ...AttributeFilter) []attribute.KeyValue {
	kept := attrs[:0]
	for _, kv := range attrs {
		keep := true
		for _, f := range filters {
			if f != nil && !f(spec, kv) {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, kv)
		}
	}
	clear(attrs[len(kept):])
	return kept
}

// maxHeaderValues and maxHeaderValueBytes bound what a captured header may
// put on a span: a peer controls them.
const (
	maxHeaderValues     = 16
	maxHeaderValueBytes = 1024
)

// appendHeaderAttributes appends the captured headers as span attributes:
// rpc.request.metadata.<key> (or rpc.response...) under the current
// conventions, rpc.<system>.request.metadata.<key> under the old ones.
// Values are bounded in number and length, and invalid UTF-8 is replaced,
// since a peer controls them.
func appendHeaderAttributes(attrs []attribute.KeyValue, header metadata, keys []string, direction string, conv Conventions, system rpcSystem) []attribute.KeyValue {
	for _, key := range keys {
		values := header.canonicalValues(key)
		if len(values) == 0 {
			continue
		}
		values = boundedValues(values)
		lower := strings.ToLower(key)
		if conv.current() {
			if direction == "request" {
				attrs = append(attrs, semconv.RPCRequestMetadata(lower, values...))
			} else {
				attrs = append(attrs, semconv.RPCResponseMetadata(lower, values...))
			}
		}
		if conv.old() {
			oldKey := "rpc." + system.oldName() + "." + direction + ".metadata." + strings.ReplaceAll(lower, "-", "_")
			attrs = append(attrs, attribute.StringSlice(oldKey, values))
		}
	}
	return attrs
}

func boundedValues(values []string) []string {
	if len(values) > maxHeaderValues {
		values = values[:maxHeaderValues]
	}
	clean := true
	for _, v := range values {
		if len(v) > maxHeaderValueBytes || !validString(v) {
			clean = false
			break
		}
	}
	if clean {
		return values
	}
	out := make([]string, len(values))
	for i, v := range values {
		if len(v) > maxHeaderValueBytes {
			v = v[:maxHeaderValueBytes]
		}
		// Each run of invalid bytes becomes a 3-byte U+FFFD, so the clean
		// value can outgrow the bound again: cut it at a rune boundary.
		v = strings.ToValidUTF8(v, "\uFFFD")
		if len(v) > maxHeaderValueBytes {
			cut := maxHeaderValueBytes
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			v = v[:cut]
		}
		out[i] = v
	}
	return out
}

func validString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.ToValidUTF8(s, "\uFFFD") == s
		}
	}
	return true
}
