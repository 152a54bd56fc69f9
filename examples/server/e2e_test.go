package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/connectware/connectware/authn"
	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/browser"
	"github.com/connectware/connectware/internal/testkit"
)

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// process is the example server running as a process, as users run it.
type process struct {
	URL    string // http://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	Token  string
	cmd    *exec.Cmd
	done   chan error
	out    *strings.Builder
	errOut strings.Builder
	mu     *sync.Mutex
}

// lockedWriter writes to w holding mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// buildServer builds the example server binary once, with -race, and
// returns its path.
func buildServer(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "connectware-server")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "server")
		out, err := exec.Command("go", "build", "-race", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	assert.NoError(t, built.err)
	return built.path
}

// startProcess builds the example server once and starts it on a free
// loopback port with args.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(buildServer(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	assert.NoError(t, err)
	p := &process{cmd: cmd, done: make(chan error, 1), out: &strings.Builder{}, mu: &sync.Mutex{}}
	cmd.Stderr = io.MultiWriter(os.Stderr, lockedWriter{p.mu, &p.errOut})
	assert.NoError(t, cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "bearer token: "); ok {
				p.Token = rest
				close(ready)
			}
			if i := strings.Index(line, "listening on http://"); i >= 0 {
				p.URL = strings.Fields(line[i+len("listening on "):])[0]
				p.Addr = strings.TrimPrefix(p.URL, "http://")
			}
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("server exited before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("server did not print its address")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Output returns what the process printed to stdout so far.
func (p *process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stderr returns what the process printed to stderr so far; read it once
// the process has exited.
func (p *process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errOut.String()
}

// httpClient returns an HTTP/1.1 or prior-knowledge HTTP/2 client.
func httpClient(h2c bool) *http.Client {
	var protocols http.Protocols
	if h2c {
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}}
}

func (p *process) greetClient(t *testing.T, proto testkit.Protocol, h2c bool, withToken bool) greetv1connect.GreetServiceClient {
	t.Helper()
	client := httpClient(h2c)
	t.Cleanup(client.CloseIdleConnections)
	opts := proto.ClientOptions()
	if withToken {
		opts = append(opts, connect.WithInterceptors(authn.StaticToken(p.Token)))
	}
	return greetv1connect.NewGreetServiceClient(client, p.URL, opts...)
}

func forEachClient(t *testing.T, fn func(t *testing.T, proto testkit.Protocol, h2c bool)) {
	for _, h2c := range []bool{false, true} {
		for _, proto := range testkit.Protocols() {
			if proto == testkit.GRPC && !h2c {
				continue
			}
			name := "http1/" + proto.String()
			if h2c {
				name = "h2c/" + proto.String()
			}
			t.Run(name, func(t *testing.T) { fn(t, proto, h2c) })
		}
	}
}

func TestGreet(t *testing.T) {
	p := startProcess(t)
	forEachClient(t, func(t *testing.T, proto testkit.Protocol, h2c bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client := p.greetClient(t, proto, h2c, true)
		res, err := client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
		assert.NoError(t, err)
		assert.Equal(t, res.Msg.GetGreeting(), "Hello, Ada!")

		stream, err := client.GreetStream(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
		assert.NoError(t, err)
		var got []string
		for stream.Receive() {
			got = append(got, stream.Msg().GetGreeting())
		}
		assert.NoError(t, stream.Err())
		assert.NoError(t, stream.Close())
		assert.True(t, len(got) >= 1 && strings.Contains(got[0], "Ada"), got)
	})
}

func TestGreetGRPCGo(t *testing.T) {
	p := startProcess(t)
	conn, err := grpc.NewClient("passthrough:///"+p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	assert.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.Token)
	res := &greetv1.GreetResponse{}
	assert.NoError(t, conn.Invoke(ctx, greetv1connect.GreetServiceGreetProcedure, &greetv1.GreetRequest{Name: "Grace"}, res))
	assert.Equal(t, res.GetGreeting(), "Hello, Grace!")

	desc := &grpc.StreamDesc{StreamName: "GreetStream", ServerStreams: true}
	stream, err := conn.NewStream(ctx, desc, greetv1connect.GreetServiceGreetStreamProcedure)
	assert.NoError(t, err)
	assert.NoError(t, stream.SendMsg(&greetv1.GreetRequest{Name: "Grace"}))
	assert.NoError(t, stream.CloseSend())
	var got []string
	for {
		msg := &greetv1.GreetResponse{}
		if err := stream.RecvMsg(msg); err != nil {
			assert.True(t, errors.Is(err, io.EOF), err)
			break
		}
		got = append(got, msg.GetGreeting())
	}
	assert.Equal(t, got, []string{"Hello, Grace!", "Good to see you, Grace.", "Goodbye, Grace!"})
}

func TestConnectGET(t *testing.T) {
	p := startProcess(t)
	q := url.Values{"connect": {"v1"}, "encoding": {"json"}, "message": {`{"name":"Ada"}`}}
	req, err := http.NewRequest(http.MethodGet, p.URL+greetv1connect.GreetServiceGreetProcedure+"?"+q.Encode(), nil)
	assert.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	res, err := http.DefaultClient.Do(req)
	assert.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, res.StatusCode, http.StatusOK, string(body))
	assert.Equal(t, string(body), `{"greeting":"Hello, Ada!"}`)
}

// TestBadInput: every malformed request gets a Connect, gRPC or gRPC-Web
// error with the right code and a message saying what is wrong, never a
// 500.
func TestBadInput(t *testing.T) {
	p := startProcess(t)
	const (
		greet  = greetv1connect.GreetServiceGreetProcedure
		stream = greetv1connect.GreetServiceGreetStreamProcedure
	)
	frame := func(flags byte, size int, payload string) string {
		return string(append([]byte{flags, byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)}, payload...))
	}
	huge := strings.Repeat("a", readMaxBytes+1)
	cases := []struct {
		name, method, path, contentType, encoding, body string
		h2c                                             bool
		wantStatus                                      int
		wantCode                                        string // Connect code, or gRPC status number
		wantMessage                                     string
	}{
		{"garbage_json", "POST", greet, "application/json", "", "{{{", false, 400, "invalid_argument", "unmarshal"},
		{"garbage_proto", "POST", greet, "application/proto", "", "\xff\xff\xff", false, 400, "invalid_argument", "unmarshal"},
		{"truncated_proto", "POST", greet, "application/proto", "", "\x0a\x10Ad", false, 400, "invalid_argument", "unmarshal"},
		{"empty_body", "POST", greet, "application/json", "", "", false, 400, "invalid_argument", "zero-length payload"},
		{"garbage_gzip", "POST", greet, "application/json", "gzip", "not gzip", false, 400, "invalid_argument", "decompress"},
		{"unknown_encoding", "POST", greet, "application/json", "br", `{"name":"Ada"}`, false, 501, "unimplemented", "br"},
		{"wrong_content_type", "POST", greet, "text/plain", "", "hello", false, 415, "", ""},
		{"wrong_grpc_codec", "POST", greet, "application/grpc+xml", "", frame(0, 0, ""), true, 415, "", ""},
		{"wrong_method", "GET", stream, "", "", "", false, 405, "", ""},
		{"oversized_json", "POST", greet, "application/json", "", `{"name":"` + huge + `"}`, false, 429, "resource_exhausted", "larger than configured max"},
		{"oversized_grpc_frame", "POST", greet, "application/grpc", "", frame(0, len(huge), huge), true, 200, "8", "larger than configured max"},
		{"truncated_grpc_frame", "POST", greet, "application/grpc", "", frame(0, 16, "\x0a"), true, 200, "13", "promised 16 bytes"},
		{"truncated_grpc_prefix", "POST", greet, "application/grpc", "", "\x00\x00\x00", true, 200, "13", "incomplete envelope"},
		{"truncated_grpcweb_frame", "POST", greet, "application/grpc-web+proto", "", frame(0, 16, "\x0a"), false, 200, "13", "promised 16 bytes"},
		{"truncated_connect_stream_frame", "POST", stream, "application/connect+proto", "", frame(0, 16, "\x0a"), false, 200, "internal", "promised 16 bytes"},
		{"garbage_connect_stream_message", "POST", stream, "application/connect+json", "", frame(0, 3, "{{{"), false, 200, "invalid_argument", "unmarshal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, p.URL+tc.path, strings.NewReader(tc.body))
			assert.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			switch {
			case tc.encoding == "":
			case strings.HasPrefix(tc.contentType, "application/grpc"):
				req.Header.Set("Grpc-Encoding", tc.encoding)
			case strings.HasPrefix(tc.contentType, "application/connect"):
				req.Header.Set("Connect-Content-Encoding", tc.encoding)
			default:
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			req.Header.Set("Authorization", "Bearer "+p.Token)
			client := httpClient(tc.h2c)
			defer client.CloseIdleConnections()
			res, err := client.Do(req)
			assert.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			assert.Equal(t, res.StatusCode, tc.wantStatus, string(body))
			switch {
			case strings.HasPrefix(tc.contentType, "application/grpc") && tc.wantCode != "":
				status := res.Trailer.Get("Grpc-Status") + res.Header.Get("Grpc-Status")
				message := res.Trailer.Get("Grpc-Message") + res.Header.Get("Grpc-Message")
				if status == "" { // gRPC-Web puts trailers in the body
					trailers := string(body)
					if i := strings.Index(trailers, "grpc-status:"); i >= 0 {
						status, _, _ = strings.Cut(strings.TrimSpace(trailers[i+len("grpc-status:"):]), "\r\n")
					}
					message = trailers
				}
				assert.Equal(t, status, tc.wantCode, message)
				message, _ = url.PathUnescape(message)
				assert.Contains(t, message, tc.wantMessage)
			case tc.wantCode != "":
				assert.Contains(t, string(body), `"code":"`+tc.wantCode+`"`)
				assert.Contains(t, string(body), tc.wantMessage)
			}
		})
	}
}

// TestSIGTERMDrains: a call in flight when SIGTERM arrives finishes, and the
// process exits 0 within 5 seconds.
func TestSIGTERMDrains(t *testing.T) {
	p := startProcess(t)
	client := p.greetClient(t, testkit.ConnectProto, true, true)
	stream, err := client.GreetStream(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
	assert.True(t, stream.Receive(), stream.Err())
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	n := 1
	for stream.Receive() {
		n++
	}
	assert.NoError(t, stream.Err())
	assert.NoError(t, stream.Close())
	assert.Equal(t, n, 3)
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit status %d", exit.ExitCode())
		}
		assert.NoError(t, err)
		p.done <- nil // for the cleanup
	case <-time.After(5*time.Second - time.Since(start)):
		t.Fatal("did not exit within 5 s of SIGTERM")
	}
	assert.Contains(t, p.Output(), "drained")
}

// TestWebPage: headless Chromium opens the demo page, served on a second
// origin, and clicks through it; the page calls the server across origins
// with the Connect protocol, and can read the rate-limit headers of its
// calls.
func TestWebPage(t *testing.T) {
	b := browser.New(t)
	p := startProcess(t, "-web-addr", "127.0.0.1:0")
	var page string
	for _, line := range strings.Split(p.Output(), "\n") {
		if rest, ok := strings.CutPrefix(line, "demo web page: "); ok {
			page = rest
		}
	}
	assert.True(t, page != "", p.Output())
	got := browser.Eval[[]string](t, b, page, `(async () => {
	  const out = [];
	  const wait = async (prev) => {
	    for (let i = 0; i < 200; i++) {
	      const t = document.getElementById("result").textContent;
	      if (t !== prev && t !== "…") return t;
	      await new Promise(r => setTimeout(r, 25));
	    }
	    return "timeout";
	  };
	  document.getElementById("name").value = "Ada";
	  document.getElementById("greet").click();
	  out.push(await wait(""));
	  document.getElementById("stream").click();
	  out.push(await wait(out[0]));
	  document.getElementById("name").value = "";
	  document.getElementById("greet").click();
	  out.push(await wait(out[1]));
	  const res = await fetch(api + "/greet.v1.GreetService/Greet", {
	    method: "POST",
	    headers: {"Content-Type": "application/json", "Connect-Protocol-Version": "1", "Authorization": "Bearer " + token},
	    body: JSON.stringify({name: "Ada"}),
	  });
	  out.push(String(res.headers.get("RateLimit")), String(res.headers.get("RateLimit-Policy")));
	  return out;
	})()`)
	assert.Equal(t, len(got), 5, got)
	assert.Contains(t, got[3], `"per-client";r=`, "RateLimit as the page reads it")
	assert.Contains(t, got[4], `"per-client";q=40;w=`, "RateLimit-Policy as the page reads it")
	assert.Equal(t, got[0], "Hello, Ada!")
	assert.Contains(t, got[1], "Hello, Ada! Good to see you, Ada. Goodbye, Ada!")
	assert.True(t, got[2] != "timeout" && got[2] != "Hello, !", got[2])
}

// TestValidation: a name outside 1 to 100 characters is InvalidArgument
// with a Violations detail, in every protocol.
func TestValidation(t *testing.T) {
	p := startProcess(t, "-rate", "1000", "-burst", "1000")
	forEachClient(t, func(t *testing.T, proto testkit.Protocol, h2c bool) {
		client := p.greetClient(t, proto, h2c, true)
		// The bounds count characters, not bytes.
		for _, name := range []string{"x", strings.Repeat("x", 100), strings.Repeat("é", 100)} {
			res, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: name}))
			assert.NoError(t, err, len(name))
			assert.Equal(t, res.Msg.GetGreeting(), "Hello, "+name+"!")
		}
		for _, name := range []string{"", strings.Repeat("x", 101)} {
			_, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: name}))
			assert.Code(t, err, connect.CodeInvalidArgument)
			var cerr *connect.Error
			assert.True(t, errors.As(err, &cerr) && len(cerr.Details()) == 1, err)
			assert.Equal(t, cerr.Details()[0].Type(), "buf.validate.Violations")
		}
	})
}
