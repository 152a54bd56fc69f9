package cors

import (
	"net/http"
	"strings"
)

// Protocol is a set of browser-capable RPC protocols. gRPC itself is not
// one: browsers cannot read HTTP/2 trailers, which is why gRPC-Web exists.
type Protocol uint8

const (
	// ProtocolConnect is the Connect protocol (unary calls as GET or POST,
	// streams as POST).
	ProtocolConnect Protocol = 1 << iota
	// ProtocolGRPCWeb is the gRPC-Web protocol (POST only).
	ProtocolGRPCWeb

	// ProtocolAll is every protocol a browser can speak: Connect and
	// gRPC-Web.
	ProtocolAll = ProtocolConnect | ProtocolGRPCWeb
)

// String returns "connect", "grpcweb", "connect+grpcweb" or "none".
func (p Protocol) String() string {
	switch p & ProtocolAll {
	case ProtocolConnect:
		return "connect"
	case ProtocolGRPCWeb:
		return "grpcweb"
	case ProtocolAll:
		return "connect+grpcweb"
	}
	return "none"
}

// AllowedMethods returns the HTTP methods of the Connect and gRPC-Web
// protocols: GET and POST. It is the same list as connectrpc.com/cors's.
func AllowedMethods() []string {
	return Methods(ProtocolAll)
}

// AllowedHeaders returns the request headers browsers send with the Connect
// and gRPC-Web protocols, the same list as connectrpc.com/cors's:
// Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout,
// X-Grpc-Web and X-User-Agent. It leaves out the compression headers; use
// [RequestHeaders] for the complete list.
func AllowedHeaders() []string {
	return []string{
		"Content-Type",
		"Connect-Protocol-Version",
		"Connect-Timeout-Ms",
		"Grpc-Timeout",
		"X-Grpc-Web",
		"X-User-Agent",
	}
}

// ExposedHeaders returns the response headers browsers must be allowed to
// read for gRPC-Web errors, the same list as connectrpc.com/cors's:
// Grpc-Status, Grpc-Message and Grpc-Status-Details-Bin. Use
// [ResponseHeaders] for the complete list.
func ExposedHeaders() []string {
	return []string{
		"Grpc-Status",
		"Grpc-Message",
		"Grpc-Status-Details-Bin",
	}
}

// Methods returns the HTTP methods protocol p uses:
//   - Connect: GET, for unary procedures marked free of side effects
//     (idempotency_level = NO_SIDE_EFFECTS), whose requests can then be
//     cached; POST for everything else.
//   - gRPC-Web: POST only.
func Methods(p Protocol) []string {
	var m []string
	if p&ProtocolConnect != 0 {
		m = append(m, http.MethodGet)
	}
	if p&ProtocolAll != 0 {
		m = append(m, http.MethodPost)
	}
	return m
}

// RequestHeaders returns the request headers protocol p sends that are not
// CORS-safelisted, so a preflight must allow them. Headers a script cannot
// set (Accept-Encoding, User-Agent, Content-Length) need no grant and are
// left out.
//
// Both protocols:
//   - Content-Type: application/json, application/proto,
//     application/connect+json, application/grpc-web+proto and the like are
//     not one of the three safelisted content types.
//   - X-User-Agent: connect-es and grpc-web identify themselves with it,
//     because browsers did not let scripts set User-Agent.
//
// Connect:
//   - Connect-Protocol-Version: sent on every Connect POST ("1").
//   - Connect-Timeout-Ms: the call's deadline.
//   - Content-Encoding: a compressed unary request body.
//   - Connect-Content-Encoding: the compression of streamed messages.
//   - Connect-Accept-Encoding: the compressions a streaming client accepts.
//
// gRPC-Web:
//   - X-Grpc-Web: marks the request as gRPC-Web ("1").
//   - Grpc-Timeout: the call's deadline.
//   - Grpc-Encoding: the compression of the request's messages.
//   - Grpc-Accept-Encoding: the compressions the client accepts.
//
// Add your own request metadata (Authorization, request ids) beside these.
func RequestHeaders(p Protocol) []string {
	var h []string
	if p&ProtocolAll != 0 {
		h = append(h, "Content-Type", "X-User-Agent")
	}
	if p&ProtocolConnect != 0 {
		h = append(h,
			"Connect-Protocol-Version",
			"Connect-Timeout-Ms",
			"Content-Encoding",
			"Connect-Content-Encoding",
			"Connect-Accept-Encoding",
		)
	}
	if p&ProtocolGRPCWeb != 0 {
		h = append(h,
			"X-Grpc-Web",
			"Grpc-Timeout",
			"Grpc-Encoding",
			"Grpc-Accept-Encoding",
		)
	}
	return h
}

// ResponseHeaders returns the response headers protocol p sends that a
// browser script must be allowed to read, followed by "Trailer-NAME" for
// each name in unaryTrailers. Names are canonicalized and listed once, in
// the order first given; empty or blank trailer names are skipped.
//
// Connect:
//   - Accept-Encoding: the compressions the server accepts for unary
//     request bodies, so a client can compress its next request.
//   - Connect-Content-Encoding: the compression of streamed messages.
//   - Connect-Accept-Encoding: the compressions a streaming server accepts.
//   - Trailer-NAME: a Connect unary response carries its trailers as
//     headers with this prefix; name each trailer your handlers set (the
//     CORS protocol has no wildcard for a prefix).
//
// gRPC-Web:
//   - Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin: a response with no
//     messages ("trailers-only", typical of errors) carries the status in
//     its headers, and a client must read them to see the error.
//   - Grpc-Encoding: the compression of the response's messages.
//   - Grpc-Accept-Encoding: the compressions the server accepts.
//
// Connect errors and streamed trailers travel in the body, so they need no
// exposed header.
func ResponseHeaders(p Protocol, unaryTrailers ...string) []string {
	var h []string
	if p&ProtocolConnect != 0 {
		h = append(h,
			"Accept-Encoding",
			"Connect-Content-Encoding",
			"Connect-Accept-Encoding",
		)
		for _, name := range unaryTrailers {
			if name = strings.TrimSpace(name); name != "" {
				h = append(h, "Trailer-"+http.CanonicalHeaderKey(name))
			}
		}
	}
	if p&ProtocolGRPCWeb != 0 {
		h = append(h,
			"Grpc-Status",
			"Grpc-Message",
			"Grpc-Status-Details-Bin",
			"Grpc-Encoding",
			"Grpc-Accept-Encoding",
		)
	}
	return dedupe(h)
}
