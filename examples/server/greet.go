package main

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
)

// greeter implements greet.v1.GreetService.
type greeter struct {
	greetv1connect.UnimplementedGreetServiceHandler

	// streamInterval is the pause between streamed greetings.
	streamInterval time.Duration
}

func (g *greeter) Greet(_ context.Context, req *connect.Request[greetv1.GreetRequest]) (*connect.Response[greetv1.GreetResponse], error) {
	return connect.NewResponse(&greetv1.GreetResponse{
		Greeting: fmt.Sprintf("Hello, %s!", req.Msg.GetName()),
	}), nil
}

func (g *greeter) GreetStream(ctx context.Context, req *connect.Request[greetv1.GreetRequest], stream *connect.ServerStream[greetv1.GreetResponse]) error {
	for i, format := range []string{"Hello, %s!", "Good to see you, %s.", "Goodbye, %s!"} {
		if i > 0 && g.streamInterval > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(g.streamInterval):
			}
		}
		if err := stream.Send(&greetv1.GreetResponse{Greeting: fmt.Sprintf(format, req.Msg.GetName())}); err != nil {
			return err
		}
	}
	return nil
}
