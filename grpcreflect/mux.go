package grpcreflect

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Mux is an http.ServeMux that remembers the Protobuf services mounted on
// it, so a [Reflector] lists exactly what the server serves. It is a
// [Namer]: pass it to [NewReflector].
//
// Handle records "acme.user.v1.UserService" for the patterns connect-go
// generated code returns ("/acme.user.v1.UserService/"), for single
// procedures ("/acme.user.v1.UserService/GetUser") and for patterns with a
// method or host ("POST example.com/acme.user.v1.UserService/"). Other
// patterns are served but not listed; see [ServiceFromPattern].
// Reflection and health handlers are listed like any other when mounted.
//
// Register on the Mux, not on the wrapped ServeMux, or the service won't be
// listed. A Mux is safe for concurrent use.
type Mux struct {
	mux *http.ServeMux

	mu    sync.Mutex
	names []string // sorted, unique; replaced, never modified in place
}

// NewMux returns a Mux that registers handlers on mux. A nil mux means a new
// http.ServeMux.
func NewMux(mux *http.ServeMux) *Mux {
	if mux == nil {
		mux = http.NewServeMux()
	}
	return &Mux{mux: mux}
}

// Handle registers handler for pattern, like http.ServeMux.Handle (and
// panics like it on conflicting patterns), and records the service the
// pattern names. Its signature matches the pair connect-go constructors
// return, so mux.Handle(greetv1connect.NewGreetServiceHandler(svc)) works.
func (m *Mux) Handle(pattern string, handler http.Handler) {
	m.mux.Handle(pattern, handler)
	m.record(pattern)
}

// HandleFunc registers handler for pattern, like http.ServeMux.HandleFunc,
// and records the service the pattern names.
func (m *Mux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.mux.HandleFunc(pattern, handler)
	m.record(pattern)
}

// ServeHTTP dispatches the request to the handler whose pattern matches.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mux.ServeHTTP(w, r)
}

// Names returns the services mounted so far, sorted. It implements [Namer].
func (m *Mux) Names() []string {
	return slices.Clone(m.snapshot())
}

// snapshot returns the current sorted names without copying.
func (m *Mux) snapshot() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.names
}

func (m *Mux) record(pattern string) {
	name, ok := ServiceFromPattern(pattern)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, found := slices.BinarySearch(m.names, name)
	if found {
		return
	}
	m.names = slices.Insert(slices.Clone(m.names), i, name)
}

// ServiceFromPattern returns the fully-qualified Protobuf service name in an
// http.ServeMux pattern or URL path: "acme.v1.Greeter" for
// "/acme.v1.Greeter/", "/acme.v1.Greeter/Greet" or
// "POST host/acme.v1.Greeter/". It reports false when the first path
// segment is not a dotted identifier followed by a slash (so "/index.html"
// is not a service). Use it to list services mounted on
// routers other than [Mux].
func ServiceFromPattern(pattern string) (string, bool) {
	pattern = strings.TrimSpace(pattern)
	if method, rest, ok := strings.Cut(pattern, " "); ok && !strings.Contains(method, "/") {
		pattern = strings.TrimSpace(rest)
	}
	slash := strings.IndexByte(pattern, '/')
	if slash < 0 {
		return "", false
	}
	segment, _, more := strings.Cut(pattern[slash+1:], "/")
	if !more || !strings.Contains(segment, ".") || !isDottedIdent(segment) {
		return "", false
	}
	return segment, true
}

func isDottedIdent(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}
