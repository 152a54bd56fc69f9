package authn_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
)

func TestInferProtocol(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, ctype, query string
		want                 string
		ok                   bool
	}{
		{"POST", "application/grpc", "", connect.ProtocolGRPC, true},
		{"POST", "application/grpc+proto", "", connect.ProtocolGRPC, true},
		{"POST", "application/grpc-web", "", connect.ProtocolGRPCWeb, true},
		{"POST", "application/grpc-web+json", "", connect.ProtocolGRPCWeb, true},
		{"POST", "application/grpc-webx", "", connect.ProtocolConnect, true}, // some application/ type
		{"POST", "application/connect+proto", "", connect.ProtocolConnect, true},
		{"POST", "application/json", "", connect.ProtocolConnect, true},
		{"POST", "application/proto", "", connect.ProtocolConnect, true},
		// connect-go canonicalizes the Content-Type before choosing a
		// codec, so these are RPCs too.
		{"POST", "Application/GRPC", "", connect.ProtocolGRPC, true},
		{"POST", "application/grpc ; x=y", "", connect.ProtocolGRPC, true},
		{"POST", "APPLICATION/GRPC-WEB+proto", "", connect.ProtocolGRPCWeb, true},
		{"POST", "Application/Connect+Proto", "", connect.ProtocolConnect, true},
		{"POST", "Application/JSON; Charset=UTF-8", "", connect.ProtocolConnect, true},
		{"POST", "application/json;charset=utf-8", "", connect.ProtocolConnect, true},
		{"POST", "TEXT/plain", "", "", false},
		{"POST", "text/plain", "", "", false},
		{"POST", "", "", "", false},
		{"GET", "", "message=e30&encoding=json", connect.ProtocolConnect, true},
		{"GET", "", "message=e30", "", false},
		{"GET", "", "", "", false},
		{"PUT", "application/json", "", "", false},
		{"OPTIONS", "application/json", "", "", false},
	}
	for _, c := range cases {
		req := &http.Request{Method: c.method, Header: http.Header{}, URL: &url.URL{Path: "/a.B/C", RawQuery: c.query}}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		got, ok := authn.InferProtocol(req)
		assert.Equal(t, got, c.want, c)
		assert.Equal(t, ok, c.ok, c)
	}
}

func TestInferProcedure(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"/acme.v1.Svc/Method":        "/acme.v1.Svc/Method",
		"/prefix/acme.v1.Svc/Method": "/acme.v1.Svc/Method",
	}
	for path, want := range valid {
		got, ok := authn.InferProcedure(&url.URL{Path: path})
		assert.Equal(t, got, want, path)
		assert.True(t, ok, path)
	}
	// Like connectrpc.com/authn, an invalid path comes back whole.
	for _, path := range []string{"/acme.v1.Svc/", "/acme.v1.Svc", "//Method", "Svc/Method", "", "/"} {
		got, ok := authn.InferProcedure(&url.URL{Path: path})
		assert.Equal(t, got, path, path)
		assert.True(t, !ok, path)
	}
}

// TestInferProcedureInvalidReturnsPath is connectrpc.com/authn's own table:
// without a service and method, InferProcedure returns the entire path and
// false.
func TestInferProcedureInvalidReturnsPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url, want string
		ok        bool
	}{
		{"http://localhost:8080/foo", "/foo", false},
		{"http://localhost:8080/service/bar", "/service/bar", true},
		{"http://localhost:8080/service/bar/", "/service/bar/", false},
		{"http://localhost:8080/api/service/bar", "/service/bar", true},
		{"http://localhost:8080/api/service/bar/", "/api/service/bar/", false},
		{"http://localhost:8080//foo", "//foo", false},
		{"http://localhost:8080/foo//", "/foo//", false},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		assert.NoError(t, err)
		got, ok := authn.InferProcedure(u)
		assert.Equal(t, got, c.want, c.url)
		assert.Equal(t, ok, c.ok, c.url)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Bearer abc":    "abc",
		"bearer abc":    "abc",
		"BEARER  abc":   "abc",
		"Bearer":        "",
		"Bearer ":       "",
		"Bearerabc":     "",
		"Basic abc":     "",
		"":              "",
		"Bearer a b":    "a b",
		"Bearer\tabc":   "",
		"Token abc":     "",
		"Bearer abc==":  "abc==",
		"XBearer abc":   "",
		"Bearer  \tabc": "\tabc",
	}
	for header, want := range cases {
		req := &http.Request{Header: http.Header{}}
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		got, ok := authn.BearerToken(req)
		assert.Equal(t, got, want, header)
		assert.Equal(t, ok, want != "", header)
	}
}

func TestBasicCredentials(t *testing.T) {
	t.Parallel()
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth("al:ice", "pa:ss")
	user, pass, ok := authn.BasicCredentials(req)
	assert.True(t, ok)
	// RFC 7617: the user-id cannot contain a colon; the first one splits.
	assert.Equal(t, user+"|"+pass, "al|ice:pa:ss")
	req.Header.Set("Authorization", "basic Zm9vOmJhcg==")
	user, pass, ok = authn.BasicCredentials(req)
	assert.True(t, ok)
	assert.Equal(t, user+"|"+pass, "foo|bar")
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"Basic", "Basic !", "Basic Zm9v", "Bearer Zm9vOmJhcg==",
		// RFC 7617 forbids control characters in either part.
		enc("alice:pw\x00"), enc("al\x00ice:pw"), enc("alice:p\tw"), enc("alice:pw\x7f")} {
		req.Header.Set("Authorization", bad)
		_, _, ok = authn.BasicCredentials(req)
		assert.True(t, !ok, bad)
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.Equal(t, authn.SetInfo(ctx, nil), ctx, "SetInfo(nil) must be a no-op")
	assert.Equal(t, authn.GetInfo(ctx), nil)
	ctx = authn.SetInfo(ctx, "alice")
	assert.Equal(t, authn.GetInfo(ctx), any("alice"))
	s, ok := authn.InfoAs[string](ctx)
	assert.True(t, ok)
	assert.Equal(t, s, "alice")
	n, ok := authn.InfoAs[int](ctx)
	assert.True(t, !ok)
	assert.Equal(t, n, 0)
	stripped := authn.WithoutInfo(ctx)
	assert.Equal(t, authn.GetInfo(stripped), nil)
	_, ok = authn.InfoAs[string](stripped)
	assert.True(t, !ok)
	assert.Equal(t, authn.GetInfo(ctx), any("alice"), "WithoutInfo changed its parent")
	bg := context.Background()
	assert.Equal(t, authn.WithoutInfo(bg), bg)
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	err := authn.Errorf("bad %s", "token")
	assert.Equal(t, err.Code(), connect.CodeUnauthenticated)
	assert.Equal(t, err.Message(), "bad token")
	ce := authn.Challenge(err, "Bearer")
	assert.Equal(t, ce.Challenge(), "Bearer")
	assert.Equal(t, connect.CodeOf(ce), connect.CodeUnauthenticated)
	assert.Equal(t, ce.Error(), "unauthenticated: bad token")
	assert.Equal(t, authn.Challenge(nil, "Basic").Error(), "unauthenticated: invalid credentials")
}
