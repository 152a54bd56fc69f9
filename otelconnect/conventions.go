package otelconnect

import "strings"

// Conventions selects which semantic conventions the interceptor emits.
type Conventions int

const (
	// ConventionsFromEnv reads OTEL_SEMCONV_STABILITY_OPT_IN, as otelgrpc
	// does: "rpc/dup" selects [ConventionsDup], "rpc/old" [ConventionsOld],
	// anything else (including "rpc" and nothing) [ConventionsCurrent]. It
	// is the default.
	ConventionsFromEnv Conventions = iota
	// ConventionsCurrent emits the current RPC conventions (semconv v1.43),
	// as connectrpc.com/otelconnect v0.12 does.
	ConventionsCurrent
	// ConventionsOld emits the conventions of connectrpc.com/otelconnect
	// v0.9 (versions up to v0.8 named gRPC-Web "grpc_web", where v0.9 and
	// this package say "grpc"): rpc.server.duration and rpc.client.duration
	// in milliseconds; the request and response size and messages-per-RPC
	// histograms (a unary call's recorded when it ends, with the duration's
	// attributes, and one message each way even when it fails, as v0.9
	// does; a stream's sizes as each message goes, with the request
	// attributes only); rpc.system ("grpc" or "connect_rpc"), rpc.service
	// and the short rpc.method; rpc.grpc.status_code or
	// rpc.connect_rpc.error_code; and, on clients only, net.peer.name and
	// net.peer.port (the server's address). Unlike v0.9, handlers do not
	// record the client's net.peer.name and net.peer.port, which make a new
	// series of every client connection: [WithServerPeerAttributes] adds
	// them to server spans, never to metrics.
	ConventionsOld
	// ConventionsDup emits both: the current and old metrics side by side,
	// and spans with the attributes of both (the fully-qualified rpc.method
	// wins), so dashboards can move without a gap.
	ConventionsDup
)

// semconvOptIn is the environment variable [ConventionsFromEnv] reads.
const semconvOptIn = "OTEL_SEMCONV_STABILITY_OPT_IN"

// resolve turns ConventionsFromEnv into a concrete choice, reading the
// environment through getenv.
func (c Conventions) resolve(getenv func(string) string) Conventions {
	switch c {
	case ConventionsCurrent, ConventionsOld, ConventionsDup:
		return c
	}
	return parseOptIn(getenv(semconvOptIn))
}

// parseOptIn parses a comma-separated OTEL_SEMCONV_STABILITY_OPT_IN value.
// "rpc/dup" wins over "rpc/old", which wins over everything else.
func parseOptIn(value string) Conventions {
	result := ConventionsCurrent
	for part := range strings.SplitSeq(value, ",") {
		switch strings.TrimSpace(part) {
		case "rpc/dup":
			return ConventionsDup
		case "rpc/old":
			result = ConventionsOld
		}
	}
	return result
}

func (c Conventions) current() bool { return c == ConventionsCurrent || c == ConventionsDup }
func (c Conventions) old() bool     { return c == ConventionsOld || c == ConventionsDup }

// String names the conventions as OTEL_SEMCONV_STABILITY_OPT_IN does.
func (c Conventions) String() string {
	switch c {
	case ConventionsCurrent:
		return "rpc"
	case ConventionsOld:
		return "rpc/old"
	case ConventionsDup:
		return "rpc/dup"
	}
	return "env"
}
