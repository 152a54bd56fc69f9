package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fullstorydev/grpcurl"
	jhumpreflect "github.com/jhump/protoreflect/grpcreflect"

	"github.com/connectware/connectware/internal/assert"
)

// TestGrpcurl drives the running server with the grpcurl library and
// jhump/protoreflect's reflection client, as `grpcurl -plaintext` does:
// list the services without a token, describe GreetRequest (whose
// protovalidate rule comes from validate.proto, which reflection must
// serve), call Greet with the bearer token and without it, and check
// health, all from the reflected schema.
func TestGrpcurl(t *testing.T) {
	p := startProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := p.grpcConn(t)
	client := jhumpreflect.NewClientAuto(ctx, conn)
	defer client.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, client)

	services, err := grpcurl.ListServices(source)
	assert.NoError(t, err)
	assert.Equal(t, services, []string{
		"greet.v1.GreetService",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
	})
	methods, err := grpcurl.ListMethods(source, "greet.v1.GreetService")
	assert.NoError(t, err)
	assert.Equal(t, methods, []string{"greet.v1.GreetService.Greet", "greet.v1.GreetService.GreetStream"})

	dsc, err := source.FindSymbol("greet.v1.GreetRequest")
	assert.NoError(t, err)
	text, err := grpcurl.GetDescriptorText(dsc, source)
	assert.NoError(t, err)
	assert.Contains(t, text, "buf.validate.field")

	invoke := func(method, body string, headers ...string) (string, string) {
		t.Helper()
		var out bytes.Buffer
		parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source, strings.NewReader(body), grpcurl.FormatOptions{})
		assert.NoError(t, err)
		handler := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
		assert.NoError(t, grpcurl.InvokeRPC(ctx, source, conn, method, headers, handler, parser.Next))
		return handler.Status.Code().String(), out.String()
	}
	code, out := invoke("greet.v1.GreetService/Greet", `{"name": "Ada"}`, "authorization: Bearer "+p.Token)
	assert.Equal(t, code, "OK", out)
	assert.Contains(t, out, `"greeting": "Hello, Ada!"`)
	code, _ = invoke("greet.v1.GreetService/Greet", `{"name": "Ada"}`)
	assert.Equal(t, code, "Unauthenticated")
	code, _ = invoke("greet.v1.GreetService/Greet", `{"name": ""}`, "authorization: Bearer "+p.Token)
	assert.Equal(t, code, "InvalidArgument")
	code, out = invoke("grpc.health.v1.Health/Check", `{"service": "greet.v1.GreetService"}`)
	assert.Equal(t, code, "OK", out)
	assert.Contains(t, out, `"status": "SERVING"`)
}
