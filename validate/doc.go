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
// Beyond the official package, [WithIgnoreMessages] and
// [WithIgnoreProcedures] exempt message types and procedures, and
// [WithFailureHook] reports every failure (for metrics or logs) without
// this package depending on any metrics or logging library.
package validate
