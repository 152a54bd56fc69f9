package authn

import (
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"connectrpc.com/connect"
)

// InferProtocol guesses the RPC protocol of request from its method and
// Content-Type (and, for GET, its query): [connect.ProtocolGRPC],
// [connect.ProtocolGRPCWeb] or [connect.ProtocolConnect]. The boolean is
// false when request does not look like an RPC at all. The Content-Type is
// compared in canonical form (lower case, without parameters), as connect-go
// does before choosing a codec, so every request connect-go would serve as
// an RPC is recognized as one.
func InferProtocol(request *http.Request) (string, bool) {
	switch request.Method {
	case http.MethodPost:
		ctype := canonicalContentType(headerValue(request.Header, "Content-Type"))
		switch {
		case hasMediaPrefix(ctype, "application/grpc-web"):
			return connect.ProtocolGRPCWeb, true
		case hasMediaPrefix(ctype, "application/grpc"):
			return connect.ProtocolGRPC, true
		case strings.HasPrefix(ctype, "application/connect+"):
			return connect.ProtocolConnect, true // streaming
		case strings.HasPrefix(ctype, "application/"):
			return connect.ProtocolConnect, true // unary
		}
	case http.MethodGet:
		// Connect unary GET: ?message=...&encoding=...
		raw := request.URL.RawQuery
		if raw == "" {
			return "", false
		}
		query := request.URL.Query()
		if query.Has("message") && query.Has("encoding") {
			return connect.ProtocolConnect, true
		}
	}
	return "", false
}

// canonicalContentType returns the media type of ctype in lower case,
// without parameters. Like connect-go, it returns the common canonical form
// without allocating and parses anything else.
func canonicalContentType(ctype string) string {
	if isCanonicalContentType(ctype) {
		return ctype
	}
	if base, _, err := mime.ParseMediaType(ctype); err == nil {
		return base // lower case
	}
	return strings.ToLower(strings.TrimSpace(ctype))
}

// isCanonicalContentType reports whether ctype is made of lower-case
// letters, '.', '+' and '-' around exactly one '/'.
func isCanonicalContentType(ctype string) bool {
	slashes := 0
	for i := 0; i < len(ctype); i++ {
		switch c := ctype[i]; {
		case c >= 'a' && c <= 'z', c == '.', c == '+', c == '-':
		case c == '/':
			slashes++
		default:
			return false
		}
	}
	return slashes == 1
}

// hasMediaPrefix reports whether ctype is base or base followed by "+codec"
// or parameters.
func hasMediaPrefix(ctype, base string) bool {
	if !strings.HasPrefix(ctype, base) {
		return false
	}
	rest := ctype[len(base):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// InferProcedure returns the procedure named by the last two segments of
// url's path, such as "/acme.foo.v1.FooService/Bar". When the path does not
// end in two non-empty segments, it returns the whole path and false, as
// connectrpc.com/authn does.
func InferProcedure(url *url.URL) (string, bool) {
	path := url.Path
	last := strings.LastIndexByte(path, '/')
	if last < 0 || last == len(path)-1 {
		return path, false
	}
	prev := strings.LastIndexByte(path[:last], '/')
	if prev < 0 || prev == last-1 {
		return path, false
	}
	return path[prev:], true
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme is matched case-insensitively (RFC 9110 section 11.1)
// and spaces before the token are skipped. The boolean is false when there is
// no such header, when there is more than one Authorization header (the
// field may appear only once, so which one counts would be anyone's guess),
// or when the token is empty.
func BearerToken(request *http.Request) (string, bool) {
	return schemeParam(soleValue(request.Header, "Authorization"), "Bearer")
}

// BasicCredentials returns the user name and password of an
// "Authorization: Basic <base64(user:pass)>" header (RFC 7617). The boolean
// is false when there is no such header, more than one Authorization
// header, or a malformed one, which includes
// a user name or password with a control character: RFC 7617 forbids them,
// and a trailing NUL would otherwise hash like its absence (HMAC pads keys
// with zeros), so "pw\x00" would pass for "pw".
func BasicCredentials(request *http.Request) (username, password string, ok bool) {
	return parseBasic(soleValue(request.Header, "Authorization"))
}

// parseBasic decodes the value of a Basic Authorization header.
func parseBasic(header string) (username, password string, ok bool) {
	encoded, ok := schemeParam(header, "Basic")
	if !ok {
		return "", "", false
	}
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", "", false
	}
	for _, b := range decoded {
		if b < 0x20 || b == 0x7f {
			return "", "", false
		}
	}
	username, password, ok = strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", false
	}
	return username, password, true
}

// schemeParam returns the credentials after "<scheme> " in an Authorization
// header value.
func schemeParam(header, scheme string) (string, bool) {
	if len(header) <= len(scheme) || header[len(scheme)] != ' ' || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	param := strings.TrimLeft(header[len(scheme)+1:], " ")
	if param == "" {
		return "", false
	}
	return param, true
}

// isScheme reports whether an Authorization header value uses scheme
// (matched case-insensitively), with or without credentials after it.
func isScheme(header, scheme string) bool {
	return len(header) >= len(scheme) && strings.EqualFold(header[:len(scheme)], scheme) &&
		(len(header) == len(scheme) || header[len(scheme)] == ' ')
}

// soleValue returns the value of a header field that may appear only once,
// such as Authorization, or "" when it is absent or repeated.
func soleValue(header http.Header, key string) string {
	if values := header[key]; len(values) == 1 {
		return values[0]
	}
	return ""
}

// headerValue is header.Get(key) for a key already in canonical form,
// without canonicalizing it again.
func headerValue(header http.Header, key string) string {
	if values := header[key]; len(values) > 0 {
		return values[0]
	}
	return ""
}
