package ratelimit_test

import (
	"net/http"

	"github.com/connectware/connectware/authn"
)

// fakeAuth stands in for authn's middleware: it stores the X-User header as
// the identity, as an AuthFunc would.
func fakeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user := r.Header.Get("X-User"); user != "" {
			r = r.WithContext(authn.SetInfo(r.Context(), user))
		}
		next.ServeHTTP(w, r)
	})
}
