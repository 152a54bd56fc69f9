package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainer serves one listener and drains it on shutdown. It knows two
// things net/http's Shutdown does not tell: which connections have not sent
// a byte yet, and how many requests its handler is running.
//
// net/http's Shutdown closes idle connections, but it counts a connection
// that has sent nothing as idle only once it is 5 seconds old: a browser's
// preconnect or a TCP probe would hold the drain open to its deadline, and
// Shutdown would then report a timeout although no call was running.
type drainer struct {
	name     string // what the report calls the server: "" or "web page: "
	noun     string // what it serves: "call" or "request"
	srv      *http.Server
	ln       *drainListener
	inFlight atomic.Int64
}

// newDrainer wraps srv's handler to count the requests in flight and ln to
// track the connections that have sent nothing yet.
func newDrainer(name, noun string, srv *http.Server, ln net.Listener) *drainer {
	d := &drainer{name: name, noun: noun, srv: srv, ln: newDrainListener(ln)}
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.inFlight.Add(1)
		defer d.inFlight.Add(-1)
		next.ServeHTTP(w, r)
	})
	return d
}

// serve serves until shutdown; it returns http.ErrServerClosed then.
func (d *drainer) serve() error { return d.srv.Serve(d.ln) }

// shutdown stops accepting connections, drops those that have sent nothing
// yet, and waits until ctx is done for the requests in flight to finish.
// Then it closes whatever is left, and returns the report for stderr ("" if
// the drain ended in time).
func (d *drainer) shutdown(ctx context.Context, drain time.Duration) string {
	d.ln.drain()
	err := d.srv.Shutdown(ctx)
	if err == nil {
		return ""
	}
	n := d.inFlight.Load()
	_ = d.srv.Close()
	if n == 0 {
		// A connection that sent part of a request and stalled: no handler
		// ran, so nothing was cut off.
		return fmt.Sprintf("server: %sconnections still receiving a request after %v were closed: %v", d.name, drain, err)
	}
	noun, verb := d.noun, "was"
	if n > 1 {
		noun, verb = noun+"s", "were"
	}
	return fmt.Sprintf("server: %s%d %s still running after %v %s cut off: %v", d.name, n, noun, drain, verb, err)
}

// drainListener hands out connections it can drop on drain while they have
// not sent a byte. It decides by bytes read rather than by http.ConnState:
// a connection can stay in StateNew while net/http already holds its
// request, and closing it then would break a call the server took on.
type drainListener struct {
	net.Listener
	mu       sync.Mutex
	conns    map[*drainConn]struct{}
	draining bool
}

func newDrainListener(ln net.Listener) *drainListener {
	return &drainListener{Listener: ln, conns: make(map[*drainConn]struct{})}
}

// Accept returns the next connection. Once the drain has begun, it closes
// the connections it accepts (the listener itself closes an instant later).
func (l *drainListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.draining {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		dc := &drainConn{Conn: c, l: l}
		l.conns[dc] = struct{}{}
		l.mu.Unlock()
		return dc, nil
	}
}

// drain begins the drain: the connections that have not sent a byte are
// closed, and so is every connection accepted from now on.
func (l *drainListener) drain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draining = true
	for c := range l.conns {
		if c.state.CompareAndSwap(connFresh, connDropped) {
			_ = c.Conn.Close()
		}
	}
}

func (l *drainListener) forget(c *drainConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// The states of a drainConn.
const (
	connFresh   int32 = iota // nothing read yet
	connStarted              // bytes read: a request is on its way
	connDropped              // closed by the drain before any byte was read
)

// drainConn is a connection that records whether it has sent anything.
type drainConn struct {
	net.Conn
	l     *drainListener
	state atomic.Int32
}

// Read reads from the connection. The first bytes it reads mark the
// connection started, unless the drain dropped it first: then they are
// discarded, as if they had arrived after the close.
func (c *drainConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.state.Load() != connStarted && !c.state.CompareAndSwap(connFresh, connStarted) {
		return 0, net.ErrClosed
	}
	return n, err
}

// Close closes the connection and forgets it.
func (c *drainConn) Close() error {
	c.l.forget(c)
	err := c.Conn.Close()
	if c.state.Load() == connDropped && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// CloseWrite half-closes the connection, as net/http does after some error
// responses so that the client reads them before the connection ends.
func (c *drainConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
