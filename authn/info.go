package authn

import "context"

// infoKey is the context key under which the authenticated identity lives.
type infoKey struct{}

// SetInfo returns a copy of ctx that carries info, the identity an [AuthFunc]
// returned. A nil info leaves ctx unchanged. The middleware calls SetInfo
// itself; tests and custom middleware may call it directly.
func SetInfo(ctx context.Context, info any) context.Context {
	if info == nil {
		return ctx
	}
	return context.WithValue(ctx, infoKey{}, info)
}

// GetInfo returns the identity stored by [SetInfo], or nil if there is none.
func GetInfo(ctx context.Context) any {
	return ctx.Value(infoKey{})
}

// WithoutInfo returns a copy of ctx that carries no identity, hiding any
// stored by [SetInfo] higher up. Use it before handing a request's context to
// work that must not act as the caller.
func WithoutInfo(ctx context.Context) context.Context {
	if ctx.Value(infoKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, infoKey{}, nil)
}

// InfoAs returns the identity stored by [SetInfo] as a T. The boolean is false
// when ctx carries no identity or one of another type; the T is then its zero
// value.
func InfoAs[T any](ctx context.Context) (T, bool) {
	info, ok := ctx.Value(infoKey{}).(T)
	return info, ok
}
