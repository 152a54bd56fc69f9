// Package filters holds ready-made call filters for
// [github.com/connectware/connectware/otelconnect.WithFilter], and
// combinators for them. A filter returns true for the calls to record:
//
//	otelconnect.WithFilter(filters.Not(filters.Any(
//		filters.HealthCheck(),
//		filters.Reflection(),
//	)))
//
// Filters only read the call's procedure and compare strings: they cost no
// allocation. They take a connect-go v1 spec, and work with the connect-go
// v2 interceptors (NewServerInterceptor, NewClientInterceptor) as well.
package filters

import (
	"context"
	"strings"

	"connectrpc.com/connect"
)

// Filter reports whether a call is recorded. It must be safe to call
// concurrently.
type Filter func(ctx context.Context, spec connect.Spec) bool

const (
	healthService      = "grpc.health.v1.Health"
	reflectionServices = "grpc.reflection.v1"
)

// HealthCheck matches the calls of the gRPC health service
// (grpc.health.v1.Health: Check, Watch, List).
func HealthCheck() Filter {
	return Service(healthService)
}

// Reflection matches the calls of the gRPC server reflection services,
// v1 and v1alpha (grpc.reflection.v1.ServerReflection and
// grpc.reflection.v1alpha.ServerReflection).
func Reflection() Filter {
	return ServicePrefix(reflectionServices)
}

// Procedure matches the calls of the listed procedures
// ("/pkg.Service/Method"; the leading slash is optional).
func Procedure(procedures ...string) Filter {
	want := make([]string, len(procedures))
	for i, p := range procedures {
		want[i] = "/" + strings.TrimPrefix(p, "/")
	}
	return func(_ context.Context, spec connect.Spec) bool {
		for _, p := range want {
			if spec.Procedure == p {
				return true
			}
		}
		return false
	}
}

// ProcedurePrefix matches the calls whose procedure starts with one of the
// prefixes ("/pkg.Service/Get", say; the leading slash is optional).
func ProcedurePrefix(prefixes ...string) Filter {
	want := make([]string, len(prefixes))
	for i, p := range prefixes {
		want[i] = "/" + strings.TrimPrefix(p, "/")
	}
	return func(_ context.Context, spec connect.Spec) bool {
		for _, p := range want {
			if strings.HasPrefix(spec.Procedure, p) {
				return true
			}
		}
		return false
	}
}

// Service matches the calls of the listed fully-qualified services
// ("pkg.Service").
func Service(services ...string) Filter {
	return func(_ context.Context, spec connect.Spec) bool {
		service := serviceOf(spec.Procedure)
		for _, s := range services {
			if service == s {
				return true
			}
		}
		return false
	}
}

// ServicePrefix matches the calls of the services whose fully-qualified
// name starts with one of the prefixes ("acme.internal.", say).
func ServicePrefix(prefixes ...string) Filter {
	return func(_ context.Context, spec connect.Spec) bool {
		service := serviceOf(spec.Procedure)
		for _, p := range prefixes {
			if strings.HasPrefix(service, p) {
				return true
			}
		}
		return false
	}
}

// Not matches the calls f does not match.
func Not(f Filter) Filter {
	return func(ctx context.Context, spec connect.Spec) bool {
		return !f(ctx, spec)
	}
}

// Any matches the calls one of fs matches (none when fs is empty).
func Any(fs ...Filter) Filter {
	return func(ctx context.Context, spec connect.Spec) bool {
		for _, f := range fs {
			if f(ctx, spec) {
				return true
			}
		}
		return false
	}
}

// All matches the calls all of fs match (every call when fs is empty).
func All(fs ...Filter) Filter {
	return func(ctx context.Context, spec connect.Spec) bool {
		for _, f := range fs {
			if !f(ctx, spec) {
				return false
			}
		}
		return true
	}
}

// serviceOf returns "pkg.Service" of "/pkg.Service/Method".
func serviceOf(procedure string) string {
	procedure = strings.TrimPrefix(procedure, "/")
	if i := strings.LastIndexByte(procedure, '/'); i >= 0 {
		return procedure[:i]
	}
	return ""
}
