// Package authn is net/http middleware that authenticates Connect, gRPC and
// gRPC-Web requests before connect-go reads, decompresses or unmarshals
// anything.
//
// It is a source-compatible superset of connectrpc.com/authn v0.2.0:
// [AuthFunc], [NewMiddleware], [Middleware.Wrap], [SetInfo], [GetInfo],
// [WithoutInfo], [Errorf], [InferProtocol], [InferProcedure] and
// [BearerToken] keep their names, signatures and meaning, so migrating is an
// import-path change.
package authn
