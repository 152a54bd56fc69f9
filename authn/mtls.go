package authn

import (
	"context"
	"crypto/x509"
	"net/http"
)

// MutualTLS returns an [AuthFunc] that authenticates callers by the client
// certificate the TLS handshake verified (the server's tls.Config must set
// ClientAuth to tls.VerifyClientCertIfGiven or tls.RequireAndVerifyClientCert,
// and ClientCAs). identify maps the verified chain (leaf first) to an
// identity, or returns an error to reject it; a nil identify returns the leaf
// *x509.Certificate. Requests without a verified chain (plain HTTP,
// unverified or absent certificates) are rejected with Unauthenticated.
func MutualTLS(identify func(chain []*x509.Certificate) (any, error)) AuthFunc {
	return func(_ context.Context, req *http.Request) (any, error) {
		if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 || len(req.TLS.VerifiedChains[0]) == 0 {
			return nil, Errorf(msgMissing)
		}
		chain := req.TLS.VerifiedChains[0]
		if identify == nil {
			return chain[0], nil
		}
		info, err := identify(chain)
		if err != nil {
			return nil, err
		}
		return info, nil
	}
}
