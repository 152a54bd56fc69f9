package filters_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/otelconnect/filters"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func match(f filters.Filter, procedure string) bool {
	return f(context.Background(), connect.Spec{Procedure: procedure})
}

func TestFilters(t *testing.T) {
	t.Parallel()
	const (
		ping     = "/connectware.test.v1.TestService/Ping"
		check    = "/grpc.health.v1.Health/Check"
		reflectV = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
		reflectA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
	)
	tests := []struct {
		name   string
		filter filters.Filter
		yes    []string
		no     []string
	}{
		{"health_check", filters.HealthCheck(), []string{check, "/grpc.health.v1.Health/Watch"}, []string{ping, reflectV, "/grpc.health.v1.HealthX/Check"}},
		{"reflection", filters.Reflection(), []string{reflectV, reflectA}, []string{ping, check}},
		{"procedure", filters.Procedure("connectware.test.v1.TestService/Ping"), []string{ping}, []string{ping + "X", check}},
		{"procedure_prefix", filters.ProcedurePrefix("/connectware.test.v1.TestService/P"), []string{ping}, []string{"/connectware.test.v1.TestService/Sum"}},
		{"service", filters.Service("connectware.test.v1.TestService"), []string{ping}, []string{check}},
		{"service_prefix", filters.ServicePrefix("connectware."), []string{ping}, []string{check, reflectV}},
		{"not", filters.Not(filters.HealthCheck()), []string{ping}, []string{check}},
		{"any", filters.Any(filters.HealthCheck(), filters.Reflection()), []string{check, reflectA}, []string{ping}},
		{"any_empty", filters.Any(), nil, []string{ping}},
		{"all", filters.All(filters.ServicePrefix("grpc."), filters.Not(filters.Reflection())), []string{check}, []string{ping, reflectV}},
		{"all_empty", filters.All(), []string{ping}, nil},
		{"not_any", filters.Not(filters.Any(filters.HealthCheck(), filters.Reflection())), []string{ping}, []string{check, reflectV, reflectA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range tt.yes {
				assert.True(t, match(tt.filter, p), p)
			}
			for _, p := range tt.no {
				assert.True(t, !match(tt.filter, p), p)
			}
		})
	}
}

func TestFiltersDoNotAllocate(t *testing.T) {
	f := filters.Not(filters.Any(filters.HealthCheck(), filters.Reflection(), filters.ProcedurePrefix("/a.B/")))
	spec := connect.Spec{Procedure: "/connectware.test.v1.TestService/Ping"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() { f(ctx, spec) })
	assert.Equal(t, allocs, 0.0)
}
