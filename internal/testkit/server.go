// Package testkit starts real connect-go servers on loopback and builds real
// clients for them, so every connectware package can test each protocol, RPC
// kind and HTTP version with one table-driven loop.
//
// Nothing here is faked: servers listen on 127.0.0.1 over HTTP/1.1, h2c
// (HTTP/2 with prior knowledge) or TLS with HTTP/2, and clients are
// connect-go clients (Connect JSON, Connect binary, gRPC, gRPC-Web) or grpc-go
// ClientConns.
package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Network is how a test server speaks HTTP.
type Network int

const (
	// HTTP1 is HTTP/1.1 over plain TCP.
	HTTP1 Network = iota + 1
	// H2C is HTTP/2 over plain TCP with prior knowledge (no upgrade).
	H2C
	// TLS is HTTP/2 over TLS, negotiated with ALPN.
	TLS
)

// Networks lists every Network, for table-driven tests.
func Networks() []Network { return []Network{HTTP1, H2C, TLS} }

// String returns the name used in test names: "http1", "h2c" or "tls".
func (n Network) String() string {
	switch n {
	case HTTP1:
		return "http1"
	case H2C:
		return "h2c"
	case TLS:
		return "tls"
	}
	return "unknown"
}

// HTTP2 reports whether the network carries HTTP/2, which gRPC and bidi
// streaming need.
func (n Network) HTTP2() bool { return n == H2C || n == TLS }

// Server is a running test server. It is closed when the test ends.
type Server struct {
	// URL is the base URL, such as "http://127.0.0.1:41234".
	URL string
	// Network is how the server speaks HTTP.
	Network Network
	// Client is an HTTP client configured for Network: HTTP/1.1 only for
	// HTTP1, prior-knowledge HTTP/2 for H2C, HTTP/2 over TLS trusting the
	// server's certificate for TLS.
	Client *http.Client
	// Addr is the listener's address.
	Addr net.Addr
	// TLSConfig is the client TLS configuration (nil unless Network is TLS).
	TLSConfig *tls.Config

	srv *httptest.Server
}

// NewServer starts h on a loopback port speaking network. The server and its
// idle client connections are closed with t.Cleanup.
func NewServer(tb testing.TB, h http.Handler, network Network) *Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	s := &Server{Network: network}
	switch network {
	case HTTP1:
		srv.Start()
		s.Client = &http.Client{Transport: &http.Transport{
			Protocols:           protocols(true, false),
			MaxIdleConnsPerHost: 64,
		}}
	case H2C:
		srv.Config.Protocols = protocols(true, true)
		srv.Start()
		s.Client = &http.Client{Transport: &http.Transport{
			Protocols: protocols(false, true),
		}}
	case TLS:
		srv.EnableHTTP2 = true
		srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		s.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		s.Client = &http.Client{Transport: &http.Transport{
			TLSClientConfig:   s.TLSConfig.Clone(),
			ForceAttemptHTTP2: true,
		}}
	default:
		tb.Fatalf("testkit: unknown network %d", network)
	}
	s.srv = srv
	s.URL = srv.URL
	s.Addr = srv.Listener.Addr()
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server and closes the client's idle connections. It is
// safe to call more than once.
func (s *Server) Close() {
	if t, ok := s.Client.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// HTTPServer exposes the underlying http.Server (to set timeouts or hooks
// before requests arrive).
func (s *Server) HTTPServer() *http.Server { return s.srv.Config }

func protocols(http1, unencryptedHTTP2 bool) *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(http1)
	p.SetUnencryptedHTTP2(unencryptedHTTP2)
	return &p
}
