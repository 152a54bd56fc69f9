// Package grpchealth serves the gRPC health checking protocol
// (grpc.health.v1.Health: Check, Watch and List) from any net/http server,
// over the Connect, gRPC and gRPC-Web protocols, so Kubernetes gRPC probes,
// grpc-health-probe, Envoy and grpc-go's client-side health checking can
// follow the health of a Connect server.
//
// It is a source-compatible superset of connectrpc.com/grpchealth: the same
// [NewHandler], [Checker], [Watcher], [StaticChecker] and [Client], plus the
// List RPC (gRFC A90), graceful drain ([StaticChecker.Shutdown] and
// [StaticChecker.Resume]), background dependency probes
// ([StaticChecker.AddProbe]), plain HTTP endpoints for httpGet probes
// ([StaticChecker.LivenessHandler], [StaticChecker.ReadinessHandler]) and a
// callback form of Watch ([Client.WatchFunc]).
//
// In five lines:
//
//	checker := grpchealth.NewStaticChecker("greet.v1.GreetService")
//	mux.Handle(grpchealth.NewHandler(checker))
//	mux.Handle("/healthz", checker.LivenessHandler())
//	mux.Handle("/readyz", checker.ReadinessHandler())
//	// on SIGTERM: checker.Shutdown(), wait for load balancers to notice,
//	// checker.Close() (it ends Watch streams), then drain the HTTP server.
//
// The messages on the wire are the canonical grpc.health.v1 ones in every
// codec, including Connect JSON ({"status":"SERVING"}). They are declared
// under a private Protobuf package name, so a program may also link
// google.golang.org/grpc/health/grpc_health_v1 without a registry conflict.
package grpchealth

import (
	"context"
	"strconv"
)

const (
	// HealthV1ServiceName is the fully-qualified name of the v1 version of the
	// health service.
	HealthV1ServiceName = "grpc.health.v1.Health"

	// MaxListServices is the most services the List RPC reports, as in
	// grpc-go: a List over more fails with connect.CodeResourceExhausted.
	MaxListServices = 100

	checkProcedure = "/" + HealthV1ServiceName + "/Check"
	watchProcedure = "/" + HealthV1ServiceName + "/Watch"
	listProcedure  = "/" + HealthV1ServiceName + "/List"
)

// Status describes the health of a service. Its values are those of the
// grpc.health.v1 ServingStatus enum.
type Status uint8

const (
	// StatusUnknown indicates that the service's health state is indeterminate.
	StatusUnknown Status = 0

	// StatusServing indicates that the service is ready to accept requests.
	StatusServing Status = 1

	// StatusNotServing indicates that the process is healthy but the service is
	// not accepting requests. For example, StatusNotServing is often appropriate
	// when your primary database is down or unreachable.
	StatusNotServing Status = 2

	// StatusServiceUnknown is what Watch streams for a service the server does
	// not know (yet). Check reports such a service with connect.CodeNotFound
	// instead.
	StatusServiceUnknown Status = 3
)

// String returns the status in lower case ("unknown", "serving",
// "not_serving", "service_unknown"), or "status_N" for other values.
func (s Status) String() string {
	switch s {
	case StatusUnknown:
		return "unknown"
	case StatusServing:
		return "serving"
	case StatusNotServing:
		return "not_serving"
	case StatusServiceUnknown:
		return "service_unknown"
	}
	return "status_" + strconv.Itoa(int(s))
}

// protoName is the enum value name used on the wire in JSON ("SERVING").
func (s Status) protoName() string {
	switch s {
	case StatusUnknown:
		return "UNKNOWN"
	case StatusServing:
		return "SERVING"
	case StatusNotServing:
		return "NOT_SERVING"
	case StatusServiceUnknown:
		return "SERVICE_UNKNOWN"
	}
	return strconv.Itoa(int(s))
}

// CheckRequest is a request for the health of a service. When using protobuf,
// Service will be a fully-qualified service name (for example,
// "acme.ping.v1.PingService"). If the Service is an empty string, the caller
// is asking for the health status of whole process.
type CheckRequest struct {
	Service string
}

// CheckResponse reports the health of a service (or of the whole process). The
// only valid Status values are StatusUnknown, StatusServing, and
// StatusNotServing. When asked to report on the status of an unknown service,
// Checkers should return a connect.CodeNotFound error.
//
// Often, systems monitoring health respond to errors by restarting the
// process. They often respond to StatusNotServing by removing the process from
// a load balancer pool.
type CheckResponse struct {
	Status Status
}

// A Checker reports the health of a service. It must be safe to call
// concurrently.
type Checker interface {
	Check(context.Context, *CheckRequest) (*CheckResponse, error)
}

// A Watcher extends Checker with the ability to notify the caller when the
// health status of a service changes. When a Checker also implements Watcher,
// the handler returned by [NewHandler] supports the streaming Watch RPC.
type Watcher interface {
	Checker

	// Watch monitors the health of the requested service and calls onChange
	// whenever the status may have changed. Implementations should return
	// quickly rather than blocking. They may return an error if the request
	// cannot be satisfied. To follow the gRPC protocol for a service that is
	// not known yet, accept the watch and let Check return
	// connect.CodeNotFound: the handler then streams SERVICE_UNKNOWN and waits
	// for onChange. The context is only used for the duration of the Watch
	// call itself; it does not govern the lifetime of the watch.
	//
	// The returned stop function tells the implementation to stop calling
	// onChange. It is not an error if onChange gets called after stop when
	// the two race, but stop should arrange for calls to onChange to cease.
	Watch(ctx context.Context, req *CheckRequest, onChange func()) (stop func(), err error)
}

// A Lister extends Checker with the List RPC of gRFC A90: the status of
// every service the server knows. When a Checker also implements Lister, the
// handler returned by [NewHandler] serves List; otherwise List fails with
// connect.CodeUnimplemented. The handler enforces [MaxListServices].
type Lister interface {
	Checker

	// List returns the status of every known service, keyed by service
	// name ("" is the whole server).
	List(ctx context.Context) (map[string]Status, error)
}
