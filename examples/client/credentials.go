package main

import (
	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
)

// credentials returns client options that send token as a bearer token on
// every call, in every protocol and RPC kind. A service that gets tokens
// from an identity provider uses authn.NewCredentials with a TokenSource
// instead: tokens are then cached and refreshed before they expire.
func credentials(token string) []connect.ClientOption {
	return []connect.ClientOption{connect.WithInterceptors(authn.StaticToken(token))}
}
