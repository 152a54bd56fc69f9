// Command client calls connectware's demo server (examples/server) the way a
// Go service would: with connect-go in the Connect, gRPC and gRPC-Web
// protocols, with credentials, and with the health and reflection clients.
//
//	go run ./examples/server &                     # prints its token
//	go run ./examples/client -token TOKEN
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"connectrpc.com/connect"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed, and asking for it is no failure
		}
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "http://127.0.0.1:8080", "the demo server's base URL")
	token := fs.String("token", "", "the bearer token the server printed")
	name := fs.String("name", "Ada", "who to greet")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("-token is required: the server prints it at start")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// One HTTP/2 (h2c) client for all protocols; gRPC needs HTTP/2.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	defer httpClient.CloseIdleConnections()

	for _, p := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect", []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		opts := append(p.opts, credentials(*token)...)
		client := greetv1connect.NewGreetServiceClient(httpClient, *addr, opts...)
		res, err := client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: *name}))
		if err != nil {
			return fmt.Errorf("%s: Greet: %w", p.name, err)
		}
		fmt.Fprintf(stdout, "%-8s Greet:       %s\n", p.name, res.Msg.GetGreeting())
		stream, err := client.GreetStream(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: *name}))
		if err != nil {
			return fmt.Errorf("%s: GreetStream: %w", p.name, err)
		}
		for stream.Receive() {
			fmt.Fprintf(stdout, "%-8s GreetStream: %s\n", p.name, stream.Msg().GetGreeting())
		}
		if err := errors.Join(stream.Err(), stream.Close()); err != nil {
			return fmt.Errorf("%s: GreetStream: %w", p.name, err)
		}
	}
	return clientExtras(ctx, httpClient, *addr, stdout)
}
