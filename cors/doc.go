// Package cors lets browsers call Connect servers across origins, with the
// Connect and gRPC-Web protocols.
//
// It has two layers. The first is a source-compatible superset of
// connectrpc.com/cors: [AllowedMethods], [AllowedHeaders] and
// [ExposedHeaders] return the same lists, to plug into any CORS library, and
// [Methods], [RequestHeaders] and [ResponseHeaders] return the lists one
// protocol or both really need, compression and timeouts included. The
// second is a ready middleware on github.com/rs/cors, configured from the
// origins you allow:
//
//	c, err := cors.New([]string{"https://app.example.com", "https://*.example.org"},
//		cors.WithAuthorization(), // let browsers send Authorization
//	)
//	if err != nil {
//		log.Fatal(err)
//	}
//	handler := c.Handler(authMiddleware.Wrap(mux))
//
// A browser lets a cross-origin script read only the response headers the
// grant exposes. The presets expose those of the protocols; expose your
// own with [WithExposedHeaders], rate-limit headers included: a page can
// only slow down as RateLimit, RateLimit-Policy and Retry-After ask once
// they are exposed.
//
// # Where it goes in a stack
//
// Put CORS outermost, before authentication and rate limiting. A browser
// sends a preflight (OPTIONS with Origin and Access-Control-Request-Method)
// before a cross-origin RPC, and a preflight never carries credentials: an
// authentication layer in front of CORS would refuse it as unauthenticated,
// and the browser would never send the real call. The middleware answers
// preflights itself and does not pass them on.
package cors
