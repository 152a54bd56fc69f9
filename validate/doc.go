// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

// Package validate is a connect-go interceptor that checks every message
// against the protovalidate rules in its Protobuf schema, so handlers never
// see a request that breaks them.
//
// It is a drop-in replacement for connectrpc.com/validate (v0.9.0), for
// both connect-go majors: [NewInterceptor] (connect-go v1),
// [NewServerInterceptor] and [NewClientInterceptor] (connect-go v2,
// connectrpc.com/connect/v2), [WithValidator], [WithValidateResponses] and
// [WithoutErrorDetails] have the same names, signatures and meaning. The
// interceptors of both majors make the same decisions, from the same code.
//
// Handler-side use:
//
//	interceptor := validate.NewInterceptor()
//	path, handler := greetv1connect.NewGreetServiceHandler(
//		server,
//		connect.WithInterceptors(interceptor),
//	)
//
// With connect-go v2:
//
//	server := connect.NewServer(validate.NewServerInterceptor())
//	client := connect.NewClient(transport, validate.NewClientInterceptor())
//
// The interceptor validates requests on handlers (the unary request and
// every message received on client, server and bidi streams) and on clients
// (before anything is sent, so an invalid call fails locally and never
// reaches the network). Responses are validated only with
// [WithValidateResponses].
//
// The codes are chosen so that nobody is blamed for someone else's mistake:
//
//   - A request that breaks its rules fails with [connect.CodeInvalidArgument]
//     and carries a buf.validate.Violations error detail listing every
//     violation (unless [WithoutErrorDetails] is set).
//   - A response that breaks its rules fails with [connect.CodeInternal],
//     with the same detail.
//   - A rule that cannot be compiled (protovalidate's CompilationError), a
//     rule that fails while it runs (RuntimeError) and a message that is not
//     a Protobuf message fail with [connect.CodeInternal]: the schema or the
//     server is at fault, not the caller. (connectrpc.com/validate reports
//     these as InvalidArgument or Unknown.)
//
// A client or bidi stream that fails after earlier messages went out is
// canceled, and its request stream is not closed cleanly, so that the
// server's handler sees it end in an error instead of taking the messages
// it got for all of them. connect-go closes a request body only cleanly,
// and net/http acts on a cancellation in its own time, so this is exact
// over HTTP/2, with two known limits:
//
//   - Over HTTP/1.1 before any response, the request body is closed 100 ms
//     after the cancellation, which net/http needs to let go of the stream:
//     a transport slower than that to drop the connection lets the clean
//     end of the body through.
//   - A connect-go v2 stream on the Connect protocol over HTTP/2, once the
//     response has started, may end cleanly: connect-go v2 closes it request
//     side first. So may any connect-go v2 stream closed while a Receive
//     waits on a started response, as Close must unblock it, and any
//     connect-go v1 stream that fails while a Receive waits on a started
//     HTTP/2 response: the response is closed to unblock the Receive, and
//     connect-go then closes the request.
//
// Both would be exact if connect-go closed its request pipe with an error
// when the call's context is done, in newDuplexHTTPCall:
//
//	context.AfterFunc(ctx, func() { pipeWriter.CloseWithError(ctx.Err()) })
//
// Beyond the official package, [WithIgnoreMessages] and
// [WithIgnoreProcedures] exempt message types and procedures, and
// [WithFailureHook] reports every failure (for metrics or logs) without
// this package depending on any metrics or logging library.
package validate
