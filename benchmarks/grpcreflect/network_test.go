package grpcreflect_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
)

// rawMessage is a message the raw codec passes through as bytes, so the
// client costs the same whichever server answers.
type rawMessage struct{ data []byte }

type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(m any) ([]byte, error) { return m.(*rawMessage).data, nil }

func (rawCodec) Unmarshal(data []byte, m any) error {
	msg := m.(*rawMessage)
	msg.data = append(msg.data[:0], data...)
	return nil
}

// BenchmarkFileContainingSymbolH2C is BenchmarkFileContainingSymbol over a
// real h2c connection on loopback, with a gRPC client that doesn't decode
// the answer: one new stream per iteration. The figures include the client
// and HTTP/2 flow control for a ~100 KB answer, which dominate time and
// bytes for every implementation (see bare); the in-process benchmark
// isolates the server's reflection cost.
func BenchmarkFileContainingSymbolH2C(b *testing.B) {
	frame := request(fieldFileContainingSymbol, testv1connect.TestServiceName)
	msg := &rawMessage{data: frame[5:]}
	for _, im := range impls(b, filesFor(b, frame)) {
		b.Run(im.name, func(b *testing.B) {
			mux := http.NewServeMux()
			mux.Handle(im.path, im.handler)
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			defer srv.Close()
			transport := &http.Transport{Protocols: new(http.Protocols)}
			transport.Protocols.SetUnencryptedHTTP2(true)
			defer transport.CloseIdleConnections()
			client := connect.NewClient[rawMessage, rawMessage](&http.Client{Transport: transport}, srv.URL+im.path, connect.WithGRPC(), connect.WithCodec(rawCodec{}))
			ctx := context.Background()
			call := func() int {
				stream := client.CallBidiStream(ctx)
				if err := stream.Send(msg); err != nil {
					b.Fatal(err)
				}
				res, err := stream.Receive()
				if err != nil {
					b.Fatal(err)
				}
				_ = stream.CloseRequest()
				if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				_ = stream.CloseResponse()
				return len(res.data)
			}
			if call() < 1000 {
				b.Fatal("short answer")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				call()
			}
		})
	}
}
