package authn_test

import (
	"context"
	"net/http"
	"net/url"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
)

// The exported API of connectrpc.com/authn v0.2.0, name by name with its
// exact signature: this file does not compile if any of them is missing or
// has changed, so migrating stays an import-path change.
var (
	_ func(ctx context.Context, req *http.Request) (any, error)        = authn.AuthFunc(nil)
	_ authn.AuthFunc                                                   = func(context.Context, *http.Request) (any, error) { return nil, nil }
	_ *authn.Middleware                                                = &authn.Middleware{} // a struct type
	_ func(authn.AuthFunc, ...connect.HandlerOption) *authn.Middleware = authn.NewMiddleware
	_ func(*authn.Middleware, http.Handler) http.Handler               = (*authn.Middleware).Wrap
	_ func(context.Context, any) context.Context                       = authn.SetInfo
	_ func(context.Context) any                                        = authn.GetInfo
	_ func(context.Context) context.Context                            = authn.WithoutInfo
	_ func(string, ...any) *connect.Error                              = authn.Errorf
	_ func(*http.Request) (string, bool)                               = authn.InferProtocol
	_ func(*url.URL) (string, bool)                                    = authn.InferProcedure
	_ func(*http.Request) (string, bool)                               = authn.BearerToken
)
