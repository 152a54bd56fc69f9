// Package otelconnect adds OpenTelemetry tracing and metrics to connect-go
// handlers and clients.
//
// It is a source-compatible superset of connectrpc.com/otelconnect v0.12.0,
// for connect-go v1 and v2: the same [NewInterceptor] (v1),
// [NewServerInterceptor] and [NewClientInterceptor] (v2), options and
// [Labeler], and by default the same telemetry (the RPC semantic
// conventions of semconv v1.43), so switching is an import-path change:
//
//	interceptor, err := otelconnect.NewInterceptor()
//	if err != nil {
//		return err
//	}
//	mux.Handle(pingv1connect.NewPingServiceHandler(
//		srv, connect.WithInterceptors(interceptor),
//	))
//
// # Telemetry
//
// Every call, on handlers and clients, unary and streaming, in the Connect,
// gRPC and gRPC-Web protocols, gets one span and one duration measurement:
//
//   - the span is named after the procedure without its leading slash
//     ("pkg.Service/Method"), of kind server or client, with
//     rpc.system.name ("grpc" for gRPC and gRPC-Web, "connectrpc" for
//     Connect), rpc.method ("pkg.Service/Method") and, on clients,
//     server.address and server.port;
//   - rpc.response.status_code is set on every call ("OK" on success, the
//     upper-case code such as "NOT_FOUND" otherwise) and error.type on
//     failures; an error that is no connect-go error gets the code
//     connect-go gives it on the wire (a handler's bare or wrapped
//     context.Canceled is "CANCELED", context.DeadlineExceeded
//     "DEADLINE_EXCEEDED"), where connectrpc.com/otelconnect says
//     "UNKNOWN";
//   - client spans are errors for every failure; server spans only for
//     UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
//     DATA_LOSS, as the conventions say;
//   - rpc.server.call.duration and rpc.client.call.duration are histograms in
//     seconds with the buckets the conventions advise.
//
// Server spans do not trust the caller's trace context by default: they
// start a new trace linked to the remote span ([WithTrustRemote] makes them
// children instead).
//
// A span's attributes are all set when its call ends, in one batch (the
// per-call headers and peer address of [WithTraceRequestHeader] and
// [WithServerPeerAttributes] excepted): samplers see the span's name and
// kind, which is what they need to sample by procedure. This saves a copy
// and two allocations per call. [WithSpanStartAttributes] gives spans their
// request attributes when they start instead, for samplers that decide by
// them, as connectrpc.com/otelconnect's do.
//
// A client stream ends at its first Receive error (io.EOF included), at
// CloseResponse, or when its context ends, whichever comes first: a caller
// that only cancels its context still gets its span and duration, once.
// A client-streaming call answered with no message or two is UNIMPLEMENTED,
// as connect-go's CloseAndReceive fails it.
//
// # connect-go v2
//
// For connect-go v2 (connectrpc.com/connect/v2), [NewServerInterceptor]
// and [NewClientInterceptor] have the signatures of connectrpc.com/otelconnect
// v0.12.0's, take the same options, and record the same telemetry as
// [NewInterceptor] does for the same call:
//
//	serverInterceptor, err := otelconnect.NewServerInterceptor()
//	if err != nil {
//		return err
//	}
//	server := connect.NewServer(serverInterceptor)
//
// Both majors' adapters share one recorder; only the translation of specs,
// headers, streams and errors differs. [WithFilter] and
// [WithAttributeFilter] take functions of either major's spec.
//
// # Migrating dashboards
//
// The environment variable OTEL_SEMCONV_STABILITY_OPT_IN, read once by
// [NewInterceptor] as otelgrpc does, selects the conventions: "rpc" (or
// nothing) for the current ones, "rpc/old" for those otelconnect emitted up
// to v0.9 (rpc.server.duration in milliseconds, rpc.system, rpc.service,
// rpc.grpc.status_code, the size and messages-per-RPC histograms), and
// "rpc/dup" for both at once. [WithConventions] overrides the variable.
//
// # Beyond the official package
//
//   - ready-made call filters in the [filters] package;
//   - per-signal attribute control ([WithSpanAttributeFilter],
//     [WithMetricAttributeFilter]);
//   - an in-flight calls metric per method ([WithInFlightMetric]), observed
//     at collection so it costs no SDK call per call;
//   - opt-in per-message span events ([WithMessageEvents]);
//   - metrics are recorded with the span's context, so an SDK with the
//     default exemplar filter attaches trace ids as exemplars;
//   - the per-call cost is a fraction of the official package's: attribute
//     sets and record options are computed once per procedure and outcome;
//     with the W3C propagators (TraceContext and Baggage, alone or in a
//     composite) a request without their headers skips extraction, and the
//     trace context is injected in one allocation; a call traced by an SDK
//     span takes its duration from the span's own start and end times.
//     Any other propagator, the global one included, is called as is.
//
// # A lean Prometheus set-up
//
// With the OpenTelemetry Prometheus exporter
// (go.opentelemetry.io/otel/exporters/prometheus), every sample line
// carries otel_scope_name, otel_scope_version and otel_scope_schema_url
// labels, and every scrape a target_info family, by default. A Prometheus
// user who runs one instrumentation scope per process needs neither:
//
//	exporter, err := prometheus.New(
//		prometheus.WithRegisterer(registry),
//		prometheus.WithoutScopeInfo(),  // no otel_scope_* label on each line
//		prometheus.WithoutTargetInfo(), // no target_info family
//	)
//
// The package's tests measure the bytes per sample of a scrape with and
// without these options (see Example_leanPrometheus). prometheus.WithoutUnits
// also drops the unit suffix (rpc_server_call_duration instead of
// rpc_server_call_duration_seconds), for dashboards that were written
// without it.
//
// [filters]: https://pkg.go.dev/github.com/connectware/connectware/otelconnect/filters
package otelconnect
