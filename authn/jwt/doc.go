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
package jwt
