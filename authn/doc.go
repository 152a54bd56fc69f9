// Package authn is net/http middleware that authenticates Connect, gRPC and
// gRPC-Web requests before connect-go reads, decompresses or unmarshals
// anything, with ready validators and client credentials.
//
// It is a source-compatible superset of connectrpc.com/authn v0.2.0:
// [AuthFunc], [NewMiddleware], [Middleware.Wrap], [SetInfo], [GetInfo],
// [WithoutInfo], [Errorf], [InferProtocol], [InferProcedure] and
// [BearerToken] keep their names, signatures and meaning, so migrating is an
// import-path change. [NewMiddleware] keeps its connect.HandlerOption
// variadic; [New] takes this package's [Option] values instead, with
// [WithHandlerOptions] carrying the handler options.
//
//	auth := authn.New(
//		authn.BearerTokens(map[string]any{token: "demo-client"}),
//		authn.WithPublicServices("grpc.health.v1.Health", "grpc.reflection.*"),
//	)
//	http.ListenAndServe(addr, auth.Wrap(mux))
//
// Handlers read the identity with [InfoAs] (typed) or [GetInfo].
//
// Rejections are written in the caller's protocol with
// connect.ErrorWriter: [connect.CodeUnauthenticated] (HTTP 401 in the
// Connect protocol) with a WWW-Authenticate challenge sent as an HTTP
// header in every protocol, or [connect.CodePermissionDenied] (403) from the
// hook set with [WithAuthorization]. CORS preflights pass through untouched
// (see [WithPreflightAuthentication]); [WithNonRPC] decides what happens to
// requests that are not RPCs.
//
// Validators: [BearerTokens], [APIKeys], [BasicAuth] (with [HashSecret]),
// [MutualTLS], and JWTs from a JWKS in the sub-package authn/jwt (kept apart
// so that importing authn does not pull in a JWT library).
//
// Client side: [StaticToken] and [NewCredentials] return [Credentials],
// which are a connect.Interceptor and, through [Credentials.RoundTripper],
// an http.RoundTripper wrapper. [TokenFunc] and [OAuth2] (for an
// oauth2.TokenSource) supply refreshing tokens.
package authn
