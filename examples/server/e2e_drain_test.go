package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// sigterm sends SIGTERM to p and waits up to limit for it to exit 0. It
// returns how long the exit took.
func (p *process) sigterm(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	return p.waitExit(t, start, limit)
}

// waitExit waits until limit after start for p to exit 0, and returns how
// long after start it exited.
func (p *process) waitExit(t *testing.T, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit status %d; stderr: %s", exit.ExitCode(), p.Stderr())
		}
		assert.NoError(t, err)
	case <-time.After(limit - time.Since(start)):
		t.Fatalf("did not exit within %v of SIGTERM", limit)
	}
	return time.Since(start)
}

// webPageAddr returns the host:port of the demo page p serves.
func (p *process) webPageAddr(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(p.Output(), "\n") {
		if rest, ok := strings.CutPrefix(line, "demo web page: http://"); ok {
			return rest
		}
	}
	t.Fatalf("no demo web page in %q", p.Output())
	return ""
}

// halfSentRequest opens a connection to addr and sends the start of a
// request's header, never the end of it.
func halfSentRequest(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	assert.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	assert.NoError(t, err)
	return conn
}

// TestSIGTERMPreconnect: a connection that has sent nothing yet (a
// browser's preconnect, a TCP probe) does not hold the drain open, and no
// call is reported cut off: none was running. net/http's Shutdown alone
// waits for such a connection until it is 5 seconds old.
func TestSIGTERMPreconnect(t *testing.T) {
	p := startProcess(t, "-web-addr", "127.0.0.1:0")
	for _, addr := range []string{p.Addr, p.webPageAddr(t)} {
		conn, err := net.Dial("tcp", addr)
		assert.NoError(t, err)
		defer conn.Close()
	}
	time.Sleep(100 * time.Millisecond) // the servers have accepted them
	took := p.sigterm(t, 5*time.Second)
	assert.True(t, took < 1500*time.Millisecond, "the drain waited for connections that sent nothing:", took, p.Stderr())
	assert.True(t, !strings.Contains(p.Stderr(), "cut off"), p.Stderr())
	assert.Contains(t, p.Output(), "drained")
}

// TestSIGTERMHalfSentRequest: a connection that stalls halfway through a
// request's header holds the drain to its deadline and is then closed, but
// no handler ran, so stderr says so rather than that a call was cut off.
func TestSIGTERMHalfSentRequest(t *testing.T) {
	p := startProcess(t, "-drain", "1s")
	halfSentRequest(t, p.Addr)
	time.Sleep(100 * time.Millisecond)
	took := p.sigterm(t, 5*time.Second)
	assert.True(t, took >= time.Second, "the drain deadline was not kept", took)
	assert.Contains(t, p.Stderr(), "connections still receiving a request after 1s were closed")
	assert.True(t, !strings.Contains(p.Stderr(), "cut off"), p.Stderr())
}

// TestSIGTERMDrainsBothServers: with -web-addr, the demo page and the API
// drain at once with the same deadline. A demo-page connection held open
// through the drain does not keep the API accepting new connections
// meanwhile, the API's in-flight calls keep the whole -drain, and the demo
// page's timeout is reported too.
func TestSIGTERMDrainsBothServers(t *testing.T) {
	p := startProcess(t, "-web-addr", "127.0.0.1:0", "-drain", "2s")
	halfSentRequest(t, p.webPageAddr(t))
	// A call in flight on the API: a stream whose client has not finished
	// sending (Connect, HTTP/1.1, no body end yet).
	halfSentAPICall(t, p)
	time.Sleep(200 * time.Millisecond) // the handler is reading the body
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	// The API stops accepting connections at once, not once the demo page
	// has drained.
	for {
		conn, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		assert.True(t, time.Since(start) < time.Second, "the API still accepts connections", time.Since(start), "after SIGTERM")
		time.Sleep(20 * time.Millisecond)
	}
	took := p.waitExit(t, start, 5*time.Second)
	assert.True(t, took >= 2*time.Second, "the API call was cut off before the drain deadline", took)
	assert.Contains(t, p.Stderr(), "server: 1 call still running after 2s was cut off")
	assert.Contains(t, p.Stderr(), "server: web page: connections still receiving a request after 2s were closed")
}

// halfSentAPICall starts a Greet call on p whose client sends the headers
// and part of the body, never the rest.
func halfSentAPICall(t *testing.T, p *process) {
	t.Helper()
	conn, err := net.Dial("tcp", p.Addr)
	assert.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = io.WriteString(conn, "POST /greet.v1.GreetService/Greet HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nAuthorization: Bearer "+p.Token+"\r\nContent-Length: 100\r\n\r\n{\"name\":")
	assert.NoError(t, err)
}

// TestDrainDelay: with -drain-delay, health reports NOT_SERVING first while
// calls are still served, on new connections too, so that load balancers
// stop sending before the listener closes; then the server drains and
// exits.
func TestDrainDelay(t *testing.T) {
	p := startProcess(t, "-drain-delay", "1s")
	ready := func() int {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := client.Get(p.URL + "/readyz")
		assert.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, ready(), http.StatusOK)
	start := time.Now()
	assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	for ready() == http.StatusOK {
		assert.True(t, time.Since(start) < 500*time.Millisecond, "health still SERVING", time.Since(start), "after SIGTERM")
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, ready(), http.StatusServiceUnavailable)
	// A new connection, while health says NOT_SERVING, is still served.
	client := p.greetClient(t, testkit.ConnectJSON, false, true)
	res, err := client.Greet(context.Background(), connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
	assert.Equal(t, res.Msg.GetGreeting(), "Hello, Ada!")
	took := p.waitExit(t, start, 5*time.Second)
	assert.True(t, took >= time.Second, "exited before -drain-delay was over", took)
	assert.True(t, !strings.Contains(p.Stderr(), "cut off"), p.Stderr())
}
