package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/connectware/connectware/authn"
	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestFlagDefaults: with no flags the server listens on 127.0.0.1:8080 with
// a fresh random token, allows no browser origin, and limits each client
// to a sensible rate.
func TestFlagDefaults(t *testing.T) {
	a, err := parseFlags(nil, io.Discard)
	assert.NoError(t, err)
	b, err := parseFlags(nil, io.Discard)
	assert.NoError(t, err)
	assert.Equal(t, a.addr, "127.0.0.1:8080")
	assert.True(t, regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a.token), a.token)
	assert.True(t, a.token != b.token, "the default token is random")
	assert.Equal(t, a.corsOrigin, "")
	assert.Equal(t, a.webAddr, "")
	assert.Equal(t, a.rate, 20.0)
	assert.Equal(t, a.burst, 40)
	assert.True(t, a.drain > 0 && a.drain < 5*time.Second, "the drain ends within the 5 s exit budget", a.drain)
	assert.Equal(t, a.drainDelay, time.Duration(0))

	c, err := parseFlags([]string{"-addr", "127.0.0.1:9", "-token", "T", "-cors-origin", "https://a.example", "-rate", "3", "-burst", "4"}, io.Discard)
	assert.NoError(t, err)
	assert.Equal(t, c, config{addr: "127.0.0.1:9", token: "T", corsOrigin: "https://a.example", rate: 3, burst: 4, drain: a.drain})

	for _, args := range [][]string{{"-rate", "0"}, {"-burst", "-1"}, {"extra"}, {"-nope"}} {
		_, err := parseFlags(args, io.Discard)
		assert.True(t, err != nil, args)
	}
	// A drain that ends at once, or never in any grace period, is refused
	// with an error naming the flag.
	for _, args := range [][]string{{"-drain", "0"}, {"-drain", "-1s"}, {"-drain", "6m"}, {"-drain-delay", "-1s"}, {"-drain-delay", "5m"}} {
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, args)
		assert.Contains(t, err.Error(), args[0], args)
	}
	d, err := parseFlags([]string{"-drain", "10s", "-drain-delay", "5s"}, io.Discard)
	assert.NoError(t, err)
	assert.Equal(t, d.drain, 10*time.Second)
	assert.Equal(t, d.drainDelay, 5*time.Second)
}

// shellWords splits a command line printed by the server: words separated
// by blanks, single quotes kept together, backslash-newline joined.
func shellWords(line string) []string {
	line = strings.ReplaceAll(line, "\\\n", " ")
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted = !quoted
			inWord = true
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestUsage: the server prints how to call it with curl, grpcurl and buf
// curl, using the -token given; each printed curl command, replayed, gets
// the greeting, and grpcurl and buf curl name the right address, method and
// token.
func TestUsage(t *testing.T) {
	p := startProcess(t, "-token", "s3cret")
	assert.Equal(t, p.Token, "s3cret")
	// startProcess returns at the token line; the usage lines that follow
	// it may still be on their way through the pipe.
	out := p.Output()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out, "buf curl") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		out = p.Output()
	}
	// Join continued lines, then keep the command lines.
	var curls, grpcurls, bufcurls [][]string
	for _, line := range strings.Split(strings.ReplaceAll(out, "\\\n", " "), "\n") {
		words := shellWords(line)
		switch {
		case len(words) > 1 && words[0] == "buf" && words[1] == "curl":
			bufcurls = append(bufcurls, words)
		case len(words) > 0 && words[0] == "curl":
			curls = append(curls, words)
		case len(words) > 0 && words[0] == "grpcurl":
			grpcurls = append(grpcurls, words)
		}
	}
	assert.Equal(t, len(curls), 2, out)
	assert.Equal(t, len(grpcurls), 1, out)
	assert.Equal(t, len(bufcurls), 1, out)

	for _, words := range curls {
		method, body, target := http.MethodGet, "", ""
		header := http.Header{}
		for i := 1; i < len(words); i++ {
			switch words[i] {
			case "-sS":
			case "-H":
				i++
				k, v, _ := strings.Cut(words[i], ": ")
				header.Set(k, v)
			case "-d":
				i++
				method, body = http.MethodPost, words[i]
			default:
				assert.True(t, strings.HasPrefix(words[i], "http://"), "unexpected curl word", words[i])
				target = words[i]
			}
		}
		assert.True(t, strings.HasPrefix(target, p.URL+"/greet.v1.GreetService/Greet"), target)
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		assert.NoError(t, err)
		req.Header = header
		res, err := http.DefaultClient.Do(req)
		assert.NoError(t, err)
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, res.StatusCode, http.StatusOK, words, string(got))
		assert.Equal(t, string(got), `{"greeting":"Hello, Ada!"}`)
	}
	g := strings.Join(grpcurls[0], " ")
	assert.Contains(t, g, "-plaintext")
	assert.Contains(t, g, "Authorization: Bearer s3cret")
	assert.Contains(t, g, " "+p.Addr+" greet.v1.GreetService/Greet")
	bc := strings.Join(bufcurls[0], " ")
	assert.Contains(t, bc, "--http2-prior-knowledge")
	assert.Contains(t, bc, "Authorization: Bearer s3cret")
	assert.Contains(t, bc, p.URL+"/greet.v1.GreetService/Greet")

	// The token given is the one the server wants.
	client := p.greetClient(t, testkit.GRPC, true, true)
	_, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
}

// TestCORSNoOrigin: without -cors-origin no browser origin gets a grant.
func TestCORSNoOrigin(t *testing.T) {
	p := startProcess(t)
	req, err := http.NewRequest(http.MethodOptions, p.URL+greetv1connect.GreetServiceGreetProcedure, nil)
	assert.NoError(t, err)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
	res, err := http.DefaultClient.Do(req)
	assert.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, res.Header.Get("Access-Control-Allow-Origin"), "")
	assert.Equal(t, res.Header.Get("Access-Control-Allow-Headers"), "")
}

// TestRateLimitPerClient: the bucket belongs to the authenticated client,
// not to its address: once the client has used it up from 127.0.0.1, the
// same token from 127.0.0.2 is limited too.
func TestRateLimitPerClient(t *testing.T) {
	p := startProcess(t, "-rate", "0.2", "-burst", "2")
	from := func(ip string) greetv1connect.GreetServiceClient {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
		t.Cleanup(hc.CloseIdleConnections)
		return greetv1connect.NewGreetServiceClient(hc, p.URL, connect.WithInterceptors(authn.StaticToken(p.Token)))
	}
	first, second := from("127.0.0.1"), from("127.0.0.2")
	ctx := context.Background()
	for range 2 {
		_, err := first.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
		assert.NoError(t, err)
	}
	_, err := first.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.Code(t, err, connect.CodeResourceExhausted)
	_, err = second.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.Code(t, err, connect.CodeResourceExhausted)
}

// TestCompression: responses are compressed only from compressMinBytes
// up, for GreetService and for health and reflection alike.
func TestCompression(t *testing.T) {
	p := startProcess(t)
	// A greeting is always small: never compressed, though the client
	// accepts gzip.
	req, err := http.NewRequest(http.MethodPost, p.URL+greetv1connect.GreetServiceGreetProcedure, strings.NewReader(`{"name":"Ada"}`))
	assert.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	res, err := httpClient(false).Do(req)
	assert.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, res.StatusCode, http.StatusOK)
	assert.Equal(t, res.Header.Get("Content-Encoding"), "")

	req, err = http.NewRequest(http.MethodPost, p.URL+"/"+grpchealth.HealthV1ServiceName+"/Check", strings.NewReader(`{}`))
	assert.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = httpClient(false).Do(req)
	assert.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, res.StatusCode, http.StatusOK)
	assert.Equal(t, res.Header.Get("Content-Encoding"), "")

	// Reflection over gRPC: the service list is small and sent as is; the
	// file descriptors (greet.proto and buf/validate/validate.proto) are
	// large and compressed.
	var body bytes.Buffer
	for _, msg := range []*reflectionpb.ServerReflectionRequest{
		{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}},
		{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "greet.v1.GreetService"}},
	} {
		b, err := proto.Marshal(msg)
		assert.NoError(t, err)
		body.WriteByte(0)
		body.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		body.Write(b)
	}
	req, err = http.NewRequest(http.MethodPost, p.URL+"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", &body)
	assert.NoError(t, err)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("Grpc-Accept-Encoding", "gzip")
	hc := httpClient(true)
	defer hc.CloseIdleConnections()
	res, err = hc.Do(req)
	assert.NoError(t, err)
	frames, err := io.ReadAll(res.Body)
	res.Body.Close()
	assert.NoError(t, err)
	assert.Equal(t, res.Trailer.Get("Grpc-Status"), "0", res.Trailer)
	var flags []byte
	var sizes []int
	for len(frames) >= 5 {
		n := int(binary.BigEndian.Uint32(frames[1:5]))
		flags = append(flags, frames[0])
		sizes = append(sizes, n)
		frames = frames[5+n:]
	}
	assert.Equal(t, flags, []byte{0, 1}, sizes)
	assert.True(t, sizes[0] < compressMinBytes, sizes)
}

// TestSIGTERMStuckCall: a call that cannot finish (its client never sends
// the rest of the body) is cut off at the end of the drain; the process
// still exits 0 within 5 seconds of SIGTERM.
func TestSIGTERMStuckCall(t *testing.T) {
	p := startProcess(t)
	conn, err := net.Dial("tcp", p.Addr)
	assert.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /greet.v1.GreetService/Greet HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nAuthorization: Bearer "+p.Token+"\r\nContent-Length: 100\r\n\r\n{\"name\":")
	assert.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the handler is now reading the body
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit status %d", exit.ExitCode())
		}
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit within 5 s of SIGTERM")
	}
	assert.True(t, time.Since(start) < 5*time.Second)
	assert.Contains(t, p.Stderr(), "server: 1 call still running after 3s was cut off")
}

// TestHelpFlag: -h prints the flags with their defaults and exits 0, for the
// server and for examples/client, without reporting the request for help as
// an error; every flag examples/README.md lists is in the server's usage.
func TestHelpFlag(t *testing.T) {
	client := filepath.Join(t.TempDir(), "client")
	out, err := exec.Command("go", "build", "-o", client, "../client").CombinedOutput()
	assert.NoError(t, err, string(out))
	for _, bin := range []string{buildServer(t), client} {
		out, err := exec.Command(bin, "-h").CombinedOutput()
		assert.NoError(t, err, bin, string(out))
		assert.Contains(t, string(out), "-addr")
		assert.True(t, !strings.Contains(string(out), "help requested"), bin, string(out))
	}

	out, err = exec.Command(buildServer(t), "-h").CombinedOutput()
	assert.NoError(t, err, string(out))
	usage := string(out)
	for _, want := range []string{`(default "127.0.0.1:8080")`, "(default 20)", "(default 40)", "(default 3s)"} {
		assert.Contains(t, usage, want)
	}
	readme, err := os.ReadFile("../README.md")
	assert.NoError(t, err)
	_, flags, ok := strings.Cut(string(readme), "\nFlags: ")
	assert.True(t, ok, "examples/README.md lists the server's flags")
	flags, _, _ = strings.Cut(flags, "\n\n")
	documented := regexp.MustCompile("`(-[a-z-]+)").FindAllStringSubmatch(flags, -1)
	assert.True(t, len(documented) >= 8, documented)
	for _, m := range documented {
		assert.Contains(t, usage, "  "+m[1]+" ")
	}
}
