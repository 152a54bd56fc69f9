package grpchealth

import (
	"context"
	"strings"

	"connectrpc.com/connect"

	healthv1 "github.com/connectware/connectware/grpchealth/internal/healthv1"
)

// Compile-time assertion: *Client implements Lister (and so Checker).
var _ Lister = (*Client)(nil)

// Client calls the gRPC health-checking API of any server that serves it
// (connectware, connectrpc.com/grpchealth, grpc-go). It implements [Checker]
// and [Lister], so it can be used anywhere those are expected. It is safe to
// use concurrently.
type Client struct {
	check *connect.Client[healthv1.HealthCheckRequest, healthv1.HealthCheckResponse]
	watch *connect.Client[healthv1.HealthCheckRequest, healthv1.HealthCheckResponse]
	list  *connect.Client[healthv1.HealthListRequest, healthv1.HealthListResponse]
}

// NewClient constructs a new Client for the gRPC health-checking API.
//
// The URL supplied should be the base URL of the Connect or gRPC server (for
// example, https://api.example.com). By default the client uses the Connect
// protocol with the binary Protobuf codec. To use the gRPC protocol, supply
// [connect.WithGRPC] as an option; for gRPC-Web, [connect.WithGRPCWeb]; for
// JSON, [connect.WithProtoJSON].
func NewClient(httpClient connect.HTTPClient, baseURL string, opts ...connect.ClientOption) *Client {
	baseURL = strings.TrimRight(baseURL, "/")
	return &Client{
		check: connect.NewClient[healthv1.HealthCheckRequest, healthv1.HealthCheckResponse](httpClient, baseURL+checkProcedure, opts...),
		watch: connect.NewClient[healthv1.HealthCheckRequest, healthv1.HealthCheckResponse](httpClient, baseURL+watchProcedure, opts...),
		list:  connect.NewClient[healthv1.HealthListRequest, healthv1.HealthListResponse](httpClient, baseURL+listProcedure, opts...),
	}
}

// Check reports the health of the named service. An empty service name
// requests the health of the whole server process. If the service is unknown,
// the returned error will have [connect.CodeNotFound].
func (c *Client) Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error) {
	res, err := c.check.CallUnary(ctx, connect.NewRequest(&healthv1.HealthCheckRequest{Service: req.Service}))
	if err != nil {
		return nil, err
	}
	return &CheckResponse{Status: fromProto(res.Msg.GetStatus())}, nil
}

// List returns the status of every service the server reports (gRFC A90).
// Servers without List fail with [connect.CodeUnimplemented].
func (c *Client) List(ctx context.Context) (map[string]Status, error) {
	res, err := c.list.CallUnary(ctx, connect.NewRequest(&healthv1.HealthListRequest{}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Status, len(res.Msg.GetStatuses()))
	for service, status := range res.Msg.GetStatuses() {
		out[service] = fromProto(status.GetStatus())
	}
	return out, nil
}

// WatchEvent is a single update delivered by [Client.Watch]. Exactly one of
// Response or Err is set. An Err event, when delivered, is the final event on
// the channel.
type WatchEvent struct {
	Response *CheckResponse
	Err      error
}

// Watch streams health status changes for the requested service. Status
// updates are delivered on the returned channel. The channel closes when the
// stream ends, either because ctx is canceled, the server terminates the
// stream, or an error occurs. If the stream terminates with an error and ctx
// has not been canceled, the final value on the channel has its Err field
// set. A service the server does not know yet is reported as
// [StatusServiceUnknown].
//
// Callers cancel ctx to stop the stream and release resources:
//
//	ctx, cancel := context.WithCancel(ctx)
//	defer cancel()
//	for event := range client.Watch(ctx, &grpchealth.CheckRequest{Service: svc}) {
//	    if event.Err != nil {
//	        break // the final event
//	    }
//	    fmt.Println(event.Response.Status)
//	}
func (c *Client) Watch(ctx context.Context, req *CheckRequest) <-chan WatchEvent {
	events := make(chan WatchEvent)
	go func() {
		defer close(events)
		send := func(event WatchEvent) bool {
			select {
			case <-ctx.Done():
				return false
			case events <- event:
				return true
			}
		}
		err := c.WatchFunc(ctx, req, func(status Status) bool {
			return send(WatchEvent{Response: &CheckResponse{Status: status}})
		})
		if err != nil && ctx.Err() == nil {
			send(WatchEvent{Err: err})
		}
	}()
	return events
}

// WatchFunc streams health status changes for the requested service to fn,
// in order, on the calling goroutine, until fn returns false, ctx is done or
// the stream ends. It returns nil when fn or ctx ended the watch and the
// stream's error otherwise (a server that ends the stream cleanly, which the
// protocol never does, yields nil).
func (c *Client) WatchFunc(ctx context.Context, req *CheckRequest, fn func(Status) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.watch.CallServerStream(ctx, connect.NewRequest(&healthv1.HealthCheckRequest{Service: req.Service}))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer func() {
		cancel() // first, so Close never waits on a stream that never ends
		_ = stream.Close()
	}()
	for stream.Receive() {
		if !fn(fromProto(stream.Msg().GetStatus())) {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return stream.Err()
}
