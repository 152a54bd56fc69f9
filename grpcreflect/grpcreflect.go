// Package grpcreflect serves gRPC server reflection (grpc.reflection.v1 and
// grpc.reflection.v1alpha) from any net/http server, so tools such as
// grpcurl, grpcui, buf curl and Postman can learn a Connect server's schema.
//
// It is a source-compatible superset of connectrpc.com/grpcreflect: the same
// NewHandlerV1, NewHandlerV1Alpha, Reflector, Namer, options and Client.
// Beyond it:
//
//   - [Mux] records the services mounted on it, so the service list is what
//     the server actually serves (sorted, health and reflection included).
//   - [WithPrivate] hides services, types and whole packages: they are
//     neither listed nor resolvable, and files only they need are not sent.
//   - Descriptors are serialized once per file and cached; each response
//     carries the cached bytes.
//   - Over HTTP/1.1, where the bidirectional reflection stream cannot run,
//     clients get an RPC error that says to use HTTP/2 (h2c or TLS).
//
// The one-minute version:
//
//	mux := grpcreflect.NewMux(nil)
//	mux.Handle(greetv1connect.NewGreetServiceHandler(&greeter{}))
//	reflector := grpcreflect.NewReflector(mux)
//	mux.Handle(grpcreflect.NewHandlerV1(reflector))
//	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
package grpcreflect

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"

	reflectionv1 "github.com/connectware/connectware/grpcreflect/internal/reflectionv1"
)

const (
	// ReflectV1ServiceName is the fully-qualified name of the v1 reflection
	// service.
	ReflectV1ServiceName = "grpc.reflection.v1.ServerReflection"
	// ReflectV1AlphaServiceName is the fully-qualified name of the v1alpha
	// reflection service, which older tools still call.
	ReflectV1AlphaServiceName = "grpc.reflection.v1alpha.ServerReflection"

	serviceURLPathV1      = "/" + ReflectV1ServiceName + "/"
	serviceURLPathV1Alpha = "/" + ReflectV1AlphaServiceName + "/"
	methodName            = "ServerReflectionInfo"

	// maxRequestBytes bounds one reflection request message. Real requests
	// are a symbol or file name; callers may raise it with
	// connect.WithReadMaxBytes.
	maxRequestBytes = 64 << 10
)

// NewHandlerV1 returns the path and handler of v1 of the gRPC server
// reflection API (grpc.reflection.v1.ServerReflection), answering from
// reflector.
//
// Reflection is a bidirectional stream, so it needs HTTP/2 (h2c or TLS).
// Requests over HTTP/1.x get an error in the caller's protocol that says so.
// Request messages are limited to 64 KiB unless options set another limit
// with connect.WithReadMaxBytes. To also serve older tools that speak
// v1alpha, mount [NewHandlerV1Alpha] as well.
func NewHandlerV1(reflector *Reflector, options ...connect.HandlerOption) (string, http.Handler) {
	return newHandler(reflector, serviceURLPathV1, options)
}

// NewHandlerV1Alpha returns the path and handler of v1alpha of the gRPC
// server reflection API (grpc.reflection.v1alpha.ServerReflection). The
// v1alpha messages are wire-identical to v1, so it behaves exactly like
// [NewHandlerV1] on another path.
func NewHandlerV1Alpha(reflector *Reflector, options ...connect.HandlerOption) (string, http.Handler) {
	return newHandler(reflector, serviceURLPathV1Alpha, options)
}

func newHandler(reflector *Reflector, path string, options []connect.HandlerOption) (string, http.Handler) {
	all := make([]connect.HandlerOption, 0, len(options)+1)
	all = append(all, connect.WithReadMaxBytes(maxRequestBytes))
	all = append(all, options...)
	stream := connect.NewBidiStreamHandler(path+methodName, reflector.serve, all...)
	return path, &handler{stream: stream, errors: connect.NewErrorWriter(options...)}
}

// handler puts the HTTP/2 requirement in front of connect-go's handler, which
// on HTTP/1.x answers a bare 505 that clients report without explanation.
type handler struct {
	stream http.Handler
	errors *connect.ErrorWriter
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor >= 2 {
		h.stream.ServeHTTP(w, r)
		return
	}
	err := errHTTP2Required(r.Proto)
	// Full-duplex clients may still be writing; closing the connection
	// unblocks them once they have read the answer.
	w.Header().Set("Connection", "close")
	if h.errors.IsSupported(r) {
		_ = h.errors.Write(w, r, err)
		return
	}
	http.Error(w, err.Error(), http.StatusHTTPVersionNotSupported)
}

// errHTTP2Required is the error for a reflection request over HTTP/1.x. Its
// code is FailedPrecondition, not Unimplemented, so clients don't conclude
// that the server lacks reflection.
func errHTTP2Required(proto string) *connect.Error {
	return connect.NewError(connect.CodeFailedPrecondition, errors.New(
		"grpc reflection is a bidirectional stream and needs HTTP/2 (h2c or TLS), but this request came over "+proto+
			": retry with HTTP/2, for example grpcurl -plaintext or buf curl --http2-prior-knowledge for h2c"))
}

// serve is the connect-go adapter: it moves messages between the stream and
// a session, which holds all reflection decisions.
func (r *Reflector) serve(
	_ context.Context,
	stream *connect.BidiStream[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse],
) error {
	sess := r.newSession()
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(sess.answer(req)); err != nil {
			return err
		}
	}
}
