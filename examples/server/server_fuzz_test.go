package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/internal/assert"
)

// fuzzPaths are the procedures and endpoints FuzzServer aims at.
var fuzzPaths = []string{
	greetv1connect.GreetServiceGreetProcedure,
	greetv1connect.GreetServiceGreetStreamProcedure,
	"/grpc.health.v1.Health/Check",
	"/grpc.health.v1.Health/List",
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/metrics",
	"/readyz",
	"/nope",
}

// FuzzServer sends untrusted requests (any path, method, content type,
// compression and body; with and without the token) to the composed stack
// in process: none panics, none is a 500, and every Connect unary error
// is a Connect error body with a code.
func FuzzServer(f *testing.F) {
	a, err := newApp(config{token: "t", rate: 1e9, burst: 1 << 30})
	assert.NoError(f, err)
	f.Cleanup(a.Close)
	frame := func(size int, payload string) []byte {
		return append([]byte{0, byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)}, payload...)
	}
	for i := range fuzzPaths {
		for _, seed := range []struct {
			ctype, encoding string
			body            []byte
		}{
			{"application/json", "", []byte(`{"name":"Ada"}`)},
			{"application/json", "", []byte("{{{")},
			{"application/proto", "", []byte("\x0a\x10Ad")},
			{"application/json", "gzip", []byte("not gzip")},
			{"application/json", "br", []byte(`{}`)},
			{"application/grpc", "", frame(16, "\x0a")},
			{"application/grpc-web+proto", "", frame(2, "\x0a\x00")},
			{"application/connect+json", "", frame(3, "{{{")},
			{"application/connect+proto", "gzip", frame(1, "\x00")},
			{"text/plain", "", []byte("hello")},
		} {
			f.Add(uint8(i), false, true, seed.ctype, seed.encoding, seed.body)
		}
	}
	f.Add(uint8(0), true, true, "", "", []byte(nil))
	f.Add(uint8(0), false, false, "application/json", "", []byte(`{"name":"Ada"}`))
	f.Fuzz(func(t *testing.T, path uint8, get, auth bool, ctype, encoding string, body []byte) {
		target := fuzzPaths[int(path)%len(fuzzPaths)]
		method := http.MethodPost
		if get {
			method = http.MethodGet
		}
		req, err := http.NewRequest(method, "http://example.test", bytes.NewReader(body))
		assert.NoError(t, err)
		req.URL.Path = target
		if get {
			req.URL.RawQuery = "connect=v1&encoding=json&message=" + url.QueryEscape(string(body))
		}
		req.Header.Set("Content-Type", ctype)
		switch {
		case strings.HasPrefix(ctype, "application/grpc"):
			req.Header.Set("Grpc-Encoding", encoding)
			req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
		case strings.HasPrefix(ctype, "application/connect"):
			req.Header.Set("Connect-Content-Encoding", encoding)
		default:
			req.Header.Set("Content-Encoding", encoding)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer t")
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req)
		res := rec.Result()
		assert.True(t, res.StatusCode != http.StatusInternalServerError, "500 for", method, target, ctype, encoding, rec.Body.String())
		if res.StatusCode >= 400 && res.Header.Get("Content-Type") == "application/json" {
			var e struct{ Code string }
			assert.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
			assert.True(t, e.Code != "", "a Connect error without a code:", rec.Body.String())
		}
	})
}
