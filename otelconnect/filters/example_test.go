package filters_test

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/otelconnect/filters"
)

// Record every call but health checks and reflection; pass the filter to
// otelconnect.WithFilter.
func Example() {
	record := filters.Not(filters.Any(filters.HealthCheck(), filters.Reflection()))
	for _, procedure := range []string{
		"/greet.v1.GreetService/Greet",
		"/grpc.health.v1.Health/Check",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	} {
		fmt.Println(procedure, record(context.Background(), connect.Spec{Procedure: procedure}))
	}
	// Output:
	// /greet.v1.GreetService/Greet true
	// /grpc.health.v1.Health/Check false
	// /grpc.reflection.v1.ServerReflection/ServerReflectionInfo false
}
