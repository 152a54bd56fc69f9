// Command server is connectware's demo: one Connect server composing every
// connectware package the way a production service would.
//
//	go run ./examples/server
//
// It serves greet.v1.GreetService over HTTP/1.1 and h2c on 127.0.0.1:8080
// and prints how to call it. Flags:
//
//	-addr host:port     listen address (default 127.0.0.1:8080)
//	-token T            bearer token GreetService calls need (default: random, printed)
//	-cors-origin ORIGIN the one browser origin allowed (default: none)
//	-rate R -burst B    requests per second and burst per authenticated client
//	-web-addr host:port also serve a demo web page there, a second origin that
//	                    calls the server from the browser (its origin is the
//	                    one allowed unless -cors-origin says otherwise)
//	-drain D            how long in-flight calls may take on shutdown (default 3s)
//	-drain-delay D      how long health reports NOT_SERVING before the server
//	                    stops accepting connections, so that load balancers
//	                    stop sending first (default 0: none in front)
//
// On SIGTERM or SIGINT it drains: health turns NOT_SERVING (health watchers
// see it, then their streams end) and, after -drain-delay, both servers
// (the API and the demo page) stop at once: new connections are refused,
// connections that have not sent a request yet are closed, in-flight calls
// finish, and it exits 0. A call still running after -drain is cut off and
// reported on stderr, so the process is gone within -drain-delay plus
// -drain of the signal (3 seconds with the defaults) either way.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"golang.org/x/time/rate"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/cors"
	"github.com/connectware/connectware/examples/gen/greet/v1/greetv1connect"
	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/grpcreflect"
	"github.com/connectware/connectware/ratelimit"
	"github.com/connectware/connectware/validate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed, and asking for it is no failure
		}
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	addr       string
	token      string
	corsOrigin string
	rate       float64
	burst      int
	drain      time.Duration
	drainDelay time.Duration
	webAddr    string
}

// maxShutdown bounds -drain-delay plus -drain: longer than any orchestrator
// waits between SIGTERM and SIGKILL (Kubernetes' default grace period is
// 30 s).
const maxShutdown = 5 * time.Minute

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address, host:port")
	fs.StringVar(&cfg.token, "token", "", "bearer token GreetService calls need (default: a random one, printed at start)")
	fs.StringVar(&cfg.corsOrigin, "cors-origin", "", "the one browser origin allowed to call across origins (default: none)")
	fs.Float64Var(&cfg.rate, "rate", 20, "requests per second per authenticated client")
	fs.IntVar(&cfg.burst, "burst", 40, "burst per authenticated client")
	fs.StringVar(&cfg.webAddr, "web-addr", "", "also serve a demo web page on this address, allowed by CORS (default: off)")
	fs.DurationVar(&cfg.drain, "drain", 3*time.Second, "how long in-flight calls may take to finish on shutdown")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "how long health reports NOT_SERVING before the server stops accepting connections on shutdown; set it to how long your load balancer takes to notice (default: 0, none in front)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.token == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		cfg.token = hex.EncodeToString(b[:])
	}
	if cfg.rate <= 0 || cfg.burst <= 0 {
		return cfg, errors.New("-rate and -burst must be positive")
	}
	if cfg.drain <= 0 {
		return cfg, fmt.Errorf("-drain must be positive (it is how long in-flight calls may take to finish on shutdown), not %v", cfg.drain)
	}
	if cfg.drainDelay < 0 {
		return cfg, fmt.Errorf("-drain-delay must not be negative, not %v", cfg.drainDelay)
	}
	if cfg.drain+cfg.drainDelay > maxShutdown {
		return cfg, fmt.Errorf("-drain-delay plus -drain must be at most %v (the shutdown would outlast any grace period), not %v", maxShutdown, cfg.drain+cfg.drainDelay)
	}
	return cfg, nil
}

// run serves until ctx is done, then drains.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()
	var webLn net.Listener
	if cfg.webAddr != "" {
		if webLn, err = net.Listen("tcp", cfg.webAddr); err != nil {
			return err
		}
		defer webLn.Close()
		if cfg.corsOrigin == "" {
			cfg.corsOrigin = "http://" + webLn.Addr().String()
		}
	}
	app, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer app.Close()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           app.handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	webURL := ""
	if webLn != nil {
		webURL = "http://" + webLn.Addr().String()
	}
	printUsage(stdout, baseURL, webURL, cfg)

	servers := []*drainer{newDrainer("", "call", srv, ln)}
	if webLn != nil {
		webSrv := &http.Server{Handler: webHandler(baseURL, cfg.token), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, newDrainer("web page: ", "request", webSrv, webLn))
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.serve() }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain: health first, so load balancers stop sending (given
	// -drain-delay to notice, during which calls are still served), then
	// stop accepting connections and let in-flight calls finish.
	app.drain()
	time.Sleep(cfg.drainDelay)
	// Both servers drain at once, with the same deadline: one must not
	// spend the other's budget, nor keep accepting calls while the other
	// drains. A call still running at the deadline (a client that never
	// finishes sending, say) is cut off: the process must still exit, and
	// exit 0, within its grace period.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.drain)
	defer cancel()
	reports := make([]string, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { reports[i] = s.shutdown(shutdownCtx, cfg.drain) })
	}
	wg.Wait()
	for _, r := range reports {
		if r != "" {
			fmt.Fprintln(stderr, r)
		}
	}
	fmt.Fprintln(stdout, "drained, bye")
	return nil
}

// app is the composed handler and what must be stopped with it.
type app struct {
	handler http.Handler
	closers []func()
	drainFn []func()
}

func (a *app) Close() {
	for _, c := range a.closers {
		c()
	}
}

func (a *app) drain() {
	for _, d := range a.drainFn {
		d()
	}
}

// watchGrace is how long health watchers have, once the drain starts, to
// receive NOT_SERVING before closing the checker ends their streams, which
// would otherwise hold the drain open to its deadline.
const watchGrace = 500 * time.Millisecond

// Limits on untrusted input.
const (
	readMaxBytes     = 1 << 20 // a request message larger than 1 MiB is refused
	compressMinBytes = 1024    // smaller responses are not worth compressing
	sendMaxBytes     = 4 << 20
)

func newApp(cfg config) (*app, error) {
	a := &app{}
	tel, err := newTelemetry()
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, tel.shutdown...)
	handlerOpts := []connect.HandlerOption{
		// Telemetry first, so it sees every call, the invalid ones too;
		// validation last, right before the handler.
		connect.WithInterceptors(tel.interceptor, validate.NewInterceptor()),
		connect.WithReadMaxBytes(readMaxBytes),
		connect.WithSendMaxBytes(sendMaxBytes),
		connect.WithCompressMinBytes(compressMinBytes),
	}
	// grpcreflect.Mux records the services mounted on it, so reflection
	// lists exactly what this server serves.
	mux := grpcreflect.NewMux(http.NewServeMux())
	mux.Handle(greetv1connect.NewGreetServiceHandler(&greeter{streamInterval: 50 * time.Millisecond}, handlerOpts...))

	// Health: the whole server ("") and GreetService are SERVING until the
	// drain on shutdown. Health and reflection need no credentials.
	health := grpchealth.NewStaticChecker(greetv1connect.GreetServiceName)
	infraOpts := []connect.HandlerOption{
		connect.WithReadMaxBytes(readMaxBytes),
		connect.WithCompressMinBytes(compressMinBytes),
	}
	// On drain, health watchers get NOT_SERVING, then closing the checker
	// ends their streams.
	closeHealth := func() { _ = health.Close() }
	a.closers = append(a.closers, closeHealth)
	mux.Handle(grpchealth.NewHandler(health, infraOpts...))
	mux.Handle("/metrics", tel.handler())
	mux.Handle("/healthz", health.LivenessHandler())
	mux.Handle("/readyz", health.ReadinessHandler())
	a.drainFn = append(a.drainFn, health.Shutdown, func() { time.AfterFunc(watchGrace, closeHealth) })

	reflector := grpcreflect.NewReflector(mux)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, infraOpts...))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, infraOpts...))

	// Rate limit per authenticated client. It runs after authentication,
	// so an unauthenticated flood is refused before it reaches any bucket.
	limiter := ratelimit.NewLocal(ratelimit.Policy{Name: "per-client", Limit: rate.Limit(cfg.rate), Burst: cfg.burst})
	limit := ratelimit.NewMiddleware(limiter,
		ratelimit.WithKey(ratelimit.KeyIdentity()),
		ratelimit.WithAllowedHeaders(),
	)
	tel.countRateLimits(limit.Stats)

	// Authentication: GreetService needs the bearer token; health,
	// reflection and the plain HTTP endpoints are public. It runs before
	// connect-go reads any request body.
	auth := authn.New(tel.countAuthFailures(authn.BearerTokens(map[string]any{cfg.token: "demo-client"})),
		authn.WithPublicServices(grpchealth.HealthV1ServiceName, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName),
		authn.WithNonRPC(authn.NonRPCAllow),
		authn.WithHandlerOptions(handlerOpts...),
	)
	tel.watchHealth(health, "", greetv1connect.GreetServiceName)

	var h http.Handler = auth.Wrap(limit.Wrap(mux))
	// CORS goes outermost, so browsers' preflights are answered before
	// authentication could refuse them.
	if cfg.corsOrigin != "" {
		c, err := cors.New([]string{cfg.corsOrigin}, cors.WithAuthorization(),
			// Browsers hide response headers the grant does not expose:
			// pages must see the rate limit to slow down as it asks.
			cors.WithExposedHeaders(ratelimit.HeaderRateLimit, ratelimit.HeaderRateLimitPolicy, ratelimit.HeaderRetryAfter),
		)
		if err != nil {
			return nil, err
		}
		h = c.Handler(h)
	}
	a.handler = h
	return a, nil
}

func printUsage(w io.Writer, base, webURL string, cfg config) {
	host := base[len("http://"):]
	fmt.Fprintf(w, "connectware demo server listening on %s (HTTP/1.1 and h2c)\n", base)
	if webURL != "" {
		fmt.Fprintf(w, "demo web page: %s\n", webURL)
	}
	fmt.Fprintf(w, `bearer token: %[2]s

Call it:
  curl -sS -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"name":"Ada"}' %[1]s/greet.v1.GreetService/Greet
  curl -sS -H 'Authorization: Bearer %[2]s' \
    '%[1]s/greet.v1.GreetService/Greet?connect=v1&encoding=json&message=%%7B%%22name%%22%%3A%%22Ada%%22%%7D'
  grpcurl -plaintext -H 'Authorization: Bearer %[2]s' -d '{"name":"Ada"}' %[3]s greet.v1.GreetService/Greet
  buf curl --http2-prior-knowledge -H 'Authorization: Bearer %[2]s' -d '{"name":"Ada"}' %[1]s/greet.v1.GreetService/Greet
`, base, cfg.token, host)
	if cfg.corsOrigin != "" {
		fmt.Fprintf(w, "browsers at %s may call it (Connect and gRPC-Web)\n", cfg.corsOrigin)
	}
}
