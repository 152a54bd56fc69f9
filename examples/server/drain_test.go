package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/connectware/connectware/internal/assert"
)

// TestDrainListener: on drain, a connection that has sent nothing is
// closed, one that has sent a request is left to net/http's Shutdown,
// and connections accepted afterwards are closed at once.
func TestDrainListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})}
	d := newDrainer("", "call", srv, ln)
	done := make(chan error, 1)
	go func() { done <- d.serve() }()
	defer srv.Close()

	fresh, err := net.Dial("tcp", ln.Addr().String())
	assert.NoError(t, err)
	defer fresh.Close()
	used, err := net.Dial("tcp", ln.Addr().String())
	assert.NoError(t, err)
	defer used.Close()
	_, err = io.WriteString(used, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.NoError(t, err)
	buf := make([]byte, 512)
	n, err := used.Read(buf)
	assert.NoError(t, err)
	assert.Contains(t, string(buf[:n]), "200 OK")
	time.Sleep(50 * time.Millisecond) // the server has accepted fresh

	d.ln.drain()
	assert.NoError(t, fresh.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = fresh.Read(buf)
	assert.True(t, err != nil && !errors.Is(err, os.ErrDeadlineExceeded), "the fresh connection is closed:", err)
	// The used connection is still open: a second request is served.
	_, err = io.WriteString(used, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.NoError(t, err)
	n, err = used.Read(buf)
	assert.NoError(t, err)
	assert.Contains(t, string(buf[:n]), "200 OK")
	// A connection accepted once the drain has begun is closed at once.
	late, err := net.Dial("tcp", ln.Addr().String())
	assert.NoError(t, err)
	defer late.Close()
	assert.NoError(t, late.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = late.Read(buf)
	assert.True(t, err != nil && !errors.Is(err, os.ErrDeadlineExceeded), "the late connection is closed:", err)
}

// stubConn is a net.Conn whose Read returns what is sent on data, even
// after Close: bytes already received when the drain closes it.
type stubConn struct {
	net.Conn
	data chan []byte
}

func (c *stubConn) Read(b []byte) (int, error) { return copy(b, <-c.data), nil }
func (c *stubConn) Close() error               { return nil }

// TestDrainConnRace: bytes that arrive on a connection the drain has
// already dropped are discarded, so net/http never starts a request on a
// closed connection; bytes read before the drain keep the connection.
func TestDrainConnRace(t *testing.T) {
	l := newDrainListener(nil)
	dropped := &drainConn{Conn: &stubConn{data: make(chan []byte, 1)}, l: l}
	started := &drainConn{Conn: &stubConn{data: make(chan []byte, 2)}, l: l}
	l.conns[dropped] = struct{}{}
	l.conns[started] = struct{}{}
	buf := make([]byte, 64)

	started.Conn.(*stubConn).data <- []byte("GET / HTTP/1.1\r\n")
	n, err := started.Read(buf)
	assert.NoError(t, err)
	assert.Equal(t, n, 16)

	l.drain()
	dropped.Conn.(*stubConn).data <- []byte("GET / HTTP/1.1\r\n")
	n, err = dropped.Read(buf)
	assert.Equal(t, n, 0)
	assert.True(t, errors.Is(err, net.ErrClosed), err)

	started.Conn.(*stubConn).data <- []byte("Host: x\r\n\r\n")
	n, err = started.Read(buf)
	assert.NoError(t, err)
	assert.Equal(t, n, 11)
}
