package grpcreflect_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func TestServiceFromPattern(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"/acme.v1.Greeter/":                "acme.v1.Greeter",
		"/acme.v1.Greeter/Greet":           "acme.v1.Greeter",
		"POST /acme.v1.Greeter/":           "acme.v1.Greeter",
		"example.com/acme.v1.Greeter/":     "acme.v1.Greeter",
		"POST example.com/acme.v1.Greeter": "",
		"/grpc.health.v1.Health/":          "grpc.health.v1.Health",
		"/healthz":                         "",
		"/":                                "",
		"/static/app.js":                   "",
		"/a..b/":                           "",
		"/1a.b/":                           "",
		"acme.v1.Greeter":                  "",
		"/index.html":                      "",
	} {
		got, ok := grpcreflect.ServiceFromPattern(pattern)
		assert.Equal(t, got, want, pattern)
		assert.Equal(t, ok, want != "", pattern)
	}
}

// TestMuxRecordsAndServes checks that the Mux serves what it records, lists
// names sorted and once, and that Names returns a copy.
func TestMuxRecordsAndServes(t *testing.T) {
	t.Parallel()
	mux := grpcreflect.NewMux(nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.Handle("/z.v1.Z/", ok)
	mux.HandleFunc("POST /a.v1.A/Do", ok)
	mux.Handle("/a.v1.A/Other", ok)
	mux.Handle("/index.html", ok)
	names := mux.Names()
	assert.Equal(t, names, []string{"a.v1.A", "z.v1.Z"})
	names[0] = "changed"
	assert.Equal(t, mux.Names()[0], "a.v1.A")

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/a.v1.A/Do", nil))
	assert.Equal(t, rec.Code, http.StatusTeapot)

	inner := http.NewServeMux()
	wrapped := grpcreflect.NewMux(inner)
	wrapped.Handle("/b.v1.B/", ok)
	rec = httptest.NewRecorder()
	inner.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/b.v1.B/X", nil))
	assert.Equal(t, rec.Code, http.StatusTeapot)
	assert.Equal(t, wrapped.Names(), []string{"b.v1.B"})
}

// TestMuxListsLaterMounts checks that services mounted after reflection has
// answered are listed on the next list_services, even on the same stream:
// the cached list follows the Mux.
func TestMuxListsLaterMounts(t *testing.T) {
	t.Parallel()
	mux := grpcreflect.NewMux(nil)
	mux.Handle(grpcreflect.NewHandlerV1(grpcreflect.NewReflector(mux)))
	srv := testkit.NewServer(t, mux, testkit.H2C)
	stream := newClient(srv, testkit.GRPC).NewStream(testContext(t))
	names, err := stream.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, fullNames(names), []string{grpcreflect.ReflectV1ServiceName})

	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{}))
	names, err = stream.ListServices()
	assert.NoError(t, err)
	assert.Equal(t, fullNames(names), []string{testService, grpcreflect.ReflectV1ServiceName})
	_, err = stream.Close()
	assert.NoError(t, err)
}
