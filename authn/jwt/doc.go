// Package jwt verifies JSON Web Tokens for the authn middleware, with keys
// from a JWKS URL.
//
// It lives apart from authn so that importing authn does not pull in a JWT
// library; this package verifies signatures with github.com/go-jose/go-jose/v4.
//
//	keys, err := jwt.NewJWKS("https://issuer.example/.well-known/jwks.json")
//	defer keys.Close()
//	verifier, err := jwt.NewVerifier(keys, []string{"RS256", "ES256"},
//		jwt.WithIssuer("https://issuer.example/"), jwt.WithAudience("my-api"))
//	handler := authn.NewMiddleware(verifier.AuthFunc()).Wrap(mux)
//
// Handlers read the verified claims with authn.InfoAs[*jwt.Claims](ctx).
//
// Set [WithAudience]: without it, any token the issuer signs with a key of
// the set is accepted, including an OpenID Connect ID token issued to
// another client of the same issuer, or an access token meant for another
// API. Where the issuer types its access tokens (RFC 9068's "at+jwt"),
// [WithType] also refuses tokens of other kinds.
//
// A token for which the key set holds no suitable key is refused with
// connect.CodeUnauthenticated when the set is current, and with
// connect.CodeUnavailable when the set could not be fetched, so that
// clients retry rather than discard a token that may be valid.
package jwt
