package grpchealth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"

	healthv1 "github.com/connectware/connectware/grpchealth/internal/healthv1"
)

// NewHandler wraps the supplied Checker to build an HTTP handler for gRPC's
// health-checking API. It returns the path on which to mount the handler and
// the HTTP handler itself. The handler speaks the Connect, gRPC and gRPC-Web
// protocols, with the binary Protobuf and JSON codecs. Its JSON is compact
// and deterministic ({"status":"SERVING"}).
//
// Check is always served. Watch is served when the Checker also implements
// [Watcher] (a [StaticChecker] does) and fails with
// connect.CodeUnimplemented otherwise; List is served when it implements
// [Lister] (a StaticChecker does) and fails with connect.CodeUnimplemented
// otherwise. Check and List have no side effects, so Connect clients may
// call them with HTTP GET.
//
// Watch sends the current status at once, then each change, and returns
// when the client goes away or, for a [StaticChecker], when the checker is
// closed (see [StaticChecker.Close]). A service the Checker
// reports as connect.CodeNotFound streams SERVICE_UNKNOWN and the stream
// stays open. A slow client is sent the latest status, never a backlog.
//
// For more details on gRPC's health checking protocol, see
// https://github.com/grpc/grpc/blob/master/doc/health-checking.md and
// https://github.com/grpc/grpc/blob/master/src/proto/grpc/health/v1/health.proto.
func NewHandler(checker Checker, options ...connect.HandlerOption) (string, http.Handler) {
	h := &handler{checker: checker}
	h.static, _ = checker.(*StaticChecker)
	h.watcher, _ = checker.(Watcher)
	h.lister, _ = checker.(Lister)
	options = append(codecs(), options...)
	readOnly := append([]connect.HandlerOption{connect.WithIdempotency(connect.IdempotencyNoSideEffects)}, options...)
	return "/" + HealthV1ServiceName + "/", &serviceHandler{
		check: connect.NewUnaryHandler(checkProcedure, h.check, readOnly...),
		watch: connect.NewServerStreamHandler(watchProcedure, h.watch, options...),
		list:  connect.NewUnaryHandler(listProcedure, h.list, readOnly...),
	}
}

// serviceHandler routes the three procedures without a ServeMux lookup.
type serviceHandler struct {
	check, watch, list http.Handler
}

func (s *serviceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case checkProcedure:
		s.check.ServeHTTP(w, r)
	case watchProcedure:
		s.watch.ServeHTTP(w, r)
	case listProcedure:
		s.list.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

type handler struct {
	checker Checker
	static  *StaticChecker // non-nil when checker is exactly a *StaticChecker
	watcher Watcher        // nil if checker does not implement Watcher
	lister  Lister         // nil if checker does not implement Lister
}

// status asks the checker about service. A *StaticChecker is read directly,
// which saves the CheckRequest and CheckResponse allocations.
func (h *handler) status(ctx context.Context, service string) (Status, error) {
	if h.static != nil {
		if status, ok := h.static.lookup(service); ok {
			return status, nil
		}
		return 0, errUnknownService(service)
	}
	res, err := h.checker.Check(ctx, &CheckRequest{Service: service})
	if err != nil {
		return 0, err
	}
	if res == nil {
		return StatusUnknown, nil
	}
	return res.Status, nil
}

func (h *handler) check(
	ctx context.Context,
	req *connect.Request[healthv1.HealthCheckRequest],
) (*connect.Response[healthv1.HealthCheckResponse], error) {
	status, err := h.status(ctx, req.Msg.GetService())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(responseFor(status)), nil
}

// responses holds one response message per defined status. They are shared
// by every Check and never modified (the codecs only read them), which saves
// an allocation per call.
var responses = [...]*healthv1.HealthCheckResponse{
	{Status: healthv1.HealthCheckResponse_UNKNOWN},
	{Status: healthv1.HealthCheckResponse_SERVING},
	{Status: healthv1.HealthCheckResponse_NOT_SERVING},
	{Status: healthv1.HealthCheckResponse_SERVICE_UNKNOWN},
}

func responseFor(status Status) *healthv1.HealthCheckResponse {
	if int(status) < len(responses) {
		return responses[status]
	}
	return &healthv1.HealthCheckResponse{Status: toProto(status)}
}

func (h *handler) watch(
	ctx context.Context,
	req *connect.Request[healthv1.HealthCheckRequest],
	stream *connect.ServerStream[healthv1.HealthCheckResponse],
) error {
	if h.watcher == nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("watching health state is not supported"))
	}
	service := req.Msg.GetService()
	// One pending signal at most: a watcher that falls behind reads the
	// latest status when it catches up, never a queue of old ones.
	changed := make(chan struct{}, 1)
	stop, err := h.watcher.Watch(ctx, &CheckRequest{Service: service}, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer stop()
	// A closed StaticChecker ends the stream (see StaticChecker.Close).
	var closing <-chan struct{}
	if h.static != nil {
		closing = h.static.closing()
	}
	msg := &healthv1.HealthCheckResponse{}
	sent := false
	var last Status
	closed := false
	for {
		status, err := h.status(ctx, service)
		if err != nil {
			if connect.CodeOf(err) != connect.CodeNotFound {
				return err
			}
			status = StatusServiceUnknown
		}
		if !sent || status != last {
			msg.Status = toProto(status)
			if err := stream.Send(msg); err != nil {
				return err
			}
			sent, last = true, status
		}
		if closed {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-closing:
			closed = true // send the latest status, then end
		}
	}
}

func (h *handler) list(
	ctx context.Context,
	_ *connect.Request[healthv1.HealthListRequest],
) (*connect.Response[healthv1.HealthListResponse], error) {
	if h.lister == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("listing health states is not supported"))
	}
	statuses, err := h.lister.List(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkListSize(len(statuses)); err != nil {
		return nil, err
	}
	out := make(map[string]*healthv1.HealthCheckResponse, len(statuses))
	for service, status := range statuses {
		out[service] = &healthv1.HealthCheckResponse{Status: toProto(status)}
	}
	return connect.NewResponse(&healthv1.HealthListResponse{Statuses: out}), nil
}

// checkListSize applies gRFC A90's limit on the size of a List answer.
func checkListSize(n int) error {
	if n > MaxListServices {
		return connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("server health list exceeds maximum capacity: %d", MaxListServices))
	}
	return nil
}

func toProto(s Status) healthv1.HealthCheckResponse_ServingStatus {
	return healthv1.HealthCheckResponse_ServingStatus(s)
}

func fromProto(s healthv1.HealthCheckResponse_ServingStatus) Status {
	if s < 0 || s > 255 {
		return StatusUnknown
	}
	return Status(s)
}
