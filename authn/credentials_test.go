package authn_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

// TestCredentialsMatrix sends a static token with the interceptor and with
// the RoundTripper, in every protocol and RPC kind, to a server that
// requires it.
func TestCredentialsMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.BearerTokens(map[string]any{goodToken: wantUser}))
	creds := authn.StaticToken(goodToken)
	testkit.Matrix(t, f.handler, func(t *testing.T, c testkit.Case) {
		viaTransport := testv1connect.NewTestServiceClient(
			&http.Client{Transport: creds.RoundTripper(c.Server.Client.Transport)},
			c.Server.URL, c.Protocol.ClientOptions()...)
		clients := map[string]testv1connect.TestServiceClient{
			"interceptor":  c.Client(connect.WithInterceptors(creds)),
			"roundtripper": viaTransport,
		}
		for name, client := range clients {
			for _, st := range testkit.StreamTypes() {
				if !testkit.SupportsStream(c.Network, st) {
					continue
				}
				t.Run(testkit.StreamTypeName(st)+"/client/"+name, func(t *testing.T) {
					f.lastUser.Store("")
					_, _, err := testkit.Call(ctxTimeout(t), client, st, nil)
					assert.NoError(t, err)
					assert.Equal(t, f.lastUser.Load(), any(wantUser))
				})
			}
		}
	})
}

// tokenServer mints numbered tokens and accepts any token it minted.
type tokenServer struct {
	mu      sync.Mutex
	minted  map[string]bool
	fetches atomic.Int64
	fail    atomic.Bool
	now     func() time.Time
	ttl     time.Duration
	gate    chan struct{} // when non-nil, fetches wait for it
}

func (s *tokenServer) Token(ctx context.Context) (string, time.Time, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		}
	}
	n := s.fetches.Add(1)
	if s.fail.Load() {
		return "", time.Time{}, errors.New("token endpoint down")
	}
	token := "minted-" + strings.Repeat("x", int(n))
	s.mu.Lock()
	s.minted[token] = true
	s.mu.Unlock()
	return token, s.now().Add(s.ttl), nil
}

func (s *tokenServer) auth(_ context.Context, req *http.Request) (any, error) {
	token, _ := authn.BearerToken(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.minted[token] {
		return nil, authn.Errorf("invalid credentials")
	}
	return token, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCredentialsRefresh checks a refreshing source over the wire: one
// fetch is shared by concurrent calls, a new token is fetched shortly before
// expiry, the old token is kept while the source fails, and calls fail
// (without reaching the server) once no usable token is left.
func TestCredentialsRefresh(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ts := &tokenServer{minted: map[string]bool{}, now: clock.Now, ttl: time.Hour, gate: make(chan struct{})}
	f := newFixture(ts.auth)
	srv := testkit.NewServer(t, f.handler, testkit.H2C)
	creds := authn.NewCredentials(ts, authn.WithClock(clock.Now), authn.WithRefreshBefore(5*time.Minute))
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		client := testkit.NewClient(srv, p, connect.WithInterceptors(creds))
		t.Run(p.String(), func(t *testing.T) {
			before := ts.fetches.Load()
			var wg sync.WaitGroup
			for _, st := range testkit.StreamTypes() {
				for range 4 {
					wg.Go(func() {
						if _, _, err := testkit.Call(ctxTimeout(t), client, st, nil); err != nil {
							t.Errorf("%s: %v", testkit.StreamTypeName(st), err)
						}
					})
				}
			}
			if before == 0 {
				// The calls wait on, or share, one fetch (TestCredentialsSharedFetch
				// checks it deterministically).
				close(ts.gate)
			}
			wg.Wait()
			if before == 0 {
				assert.Equal(t, ts.fetches.Load(), int64(1), "concurrent calls fetched separately")
			}

			clock.Advance(56 * time.Minute) // inside the refresh window
			before = ts.fetches.Load()
			assert.NoError(t, ping(ctxTimeout(t), client, nil))
			assert.Equal(t, ts.fetches.Load(), before+1, "no refresh before expiry")

			clock.Advance(56 * time.Minute)
			ts.fail.Store(true)
			assert.NoError(t, ping(ctxTimeout(t), client, nil), "old token must be kept while refresh fails")
			clock.Advance(5 * time.Minute) // now expired
			calls := f.calls.Load()
			for _, st := range testkit.StreamTypes() {
				_, _, err := testkit.Call(ctxTimeout(t), client, st, nil)
				assert.Code(t, err, connect.CodeUnauthenticated, testkit.StreamTypeName(st))
				assert.Contains(t, err.Error(), "token endpoint down")
			}
			assert.Equal(t, f.calls.Load(), calls, "a call without a token reached the server")
			ts.fail.Store(false)
			assert.NoError(t, ping(ctxTimeout(t), client, nil))
		})
	}
}

// TestCredentialsHeader checks WithTokenHeader with an API key server, via
// the RoundTripper, and that the caller's request is not modified.
func TestCredentialsHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(authn.APIKeys("X-Api-Key", map[string]any{"k1": wantUser}))
	srv := testkit.NewServer(t, f.handler, testkit.HTTP1)
	creds := authn.StaticToken("k1", authn.WithTokenHeader("x-api-key", ""))
	rt := creds.RoundTripper(srv.Client.Transport)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+testv1connect.TestServicePingProcedure, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	res, err := rt.RoundTrip(req)
	assert.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, res.StatusCode, http.StatusOK)
	assert.Equal(t, req.Header.Get("X-Api-Key"), "", "the caller's request was modified")
	assert.Equal(t, f.lastUser.Load(), any(wantUser))
}

// TestCredentialsContextCanceled checks that a call waiting for a fetch
// gives up with its context.
func TestCredentialsContextCanceled(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	creds := authn.NewCredentials(authn.TokenFunc(func(ctx context.Context) (string, time.Time, error) {
		close(started)
		<-release
		return "t", time.Time{}, nil
	}))
	fetched := make(chan error, 1)
	go func() {
		_, err := creds.HeaderValue(context.Background())
		fetched <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := creds.HeaderValue(ctx)
	assert.Code(t, err, connect.CodeCanceled)
	close(release)
	assert.NoError(t, <-fetched)
	value, err := creds.HeaderValue(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, value, "Bearer t")
}

// oauth2Token has the fields of golang.org/x/oauth2.Token, which this
// module does not depend on, and oauth2TokenSource is oauth2.TokenSource.
type oauth2Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	Expiry       time.Time
	ExpiresIn    int64
	raw          any
}

type oauth2TokenSource interface {
	Token() (*oauth2Token, error)
}

// oauth2Source is an oauth2.TokenSource over a tokenServer.
type oauth2Source struct{ ts *tokenServer }

func (s oauth2Source) Token() (*oauth2Token, error) {
	token, expiry, err := s.ts.Token(context.Background())
	if err != nil {
		return nil, err
	}
	return &oauth2Token{AccessToken: token, TokenType: "Bearer", Expiry: expiry}, nil
}

// TestCredentialsOAuth2 checks the oauth2.TokenSource adapter: it reads
// the token and its expiry, so the Credentials refresh before expiry, send
// it in every protocol through the interceptor and the RoundTripper, and
// report the source's errors; types without the oauth2.Token fields fail.
func TestCredentialsOAuth2(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ts := &tokenServer{minted: map[string]bool{}, now: clock.Now, ttl: time.Hour}
	var source oauth2TokenSource = oauth2Source{ts}
	creds := authn.NewCredentials(authn.OAuth2(source), authn.WithClock(clock.Now), authn.WithRefreshBefore(5*time.Minute))

	f := newFixture(ts.auth)
	srv := testkit.NewServer(t, f.handler, testkit.H2C)
	viaTransport := &http.Client{Transport: creds.RoundTripper(srv.Client.Transport)}
	for _, p := range []testkit.Protocol{testkit.ConnectProto, testkit.GRPC, testkit.GRPCWeb} {
		clients := []testv1connect.TestServiceClient{
			testkit.NewClient(srv, p, connect.WithInterceptors(creds)),
			testv1connect.NewTestServiceClient(viaTransport, srv.URL, p.ClientOptions()...),
		}
		for _, client := range clients {
			for _, st := range testkit.StreamTypes() {
				_, _, err := testkit.Call(ctxTimeout(t), client, st, nil)
				assert.NoError(t, err, p, testkit.StreamTypeName(st))
			}
		}
	}
	assert.Equal(t, ts.fetches.Load(), int64(1))
	assert.Equal(t, f.lastUser.Load(), any("minted-x"), "the server saw another token")

	value, err := creds.HeaderValue(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, value, "Bearer minted-x")
	clock.Advance(56 * time.Minute) // inside the refresh window: the expiry was read
	value, err = creds.HeaderValue(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, value, "Bearer minted-xx")

	clock.Advance(2 * time.Hour)
	ts.fail.Store(true)
	_, err = creds.HeaderValue(context.Background())
	assert.Code(t, err, connect.CodeUnauthenticated)
	assert.Contains(t, err.Error(), "token endpoint down")

	nilToken := authn.OAuth2(oauth2TokenSourceFunc(func() (*oauth2Token, error) { return nil, nil }))
	_, _, err = nilToken.Token(context.Background())
	assert.Error(t, err)
	type noExpiry struct{ AccessToken string }
	wrongShape := authn.OAuth2(sourceOf(func() (*noExpiry, error) { return &noExpiry{"t"}, nil }))
	_, _, err = wrongShape.Token(context.Background())
	assert.Error(t, err)
	byValue := authn.OAuth2(sourceOf(func() (oauth2Token, error) {
		return oauth2Token{AccessToken: "v", Expiry: time.Unix(1, 0)}, nil
	}))
	token, expiry, err := byValue.Token(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, token, "v")
	assert.Equal(t, expiry, time.Unix(1, 0))
}

type oauth2TokenSourceFunc func() (*oauth2Token, error)

func (f oauth2TokenSourceFunc) Token() (*oauth2Token, error) { return f() }

type sourceFunc[T any] func() (T, error)

func (f sourceFunc[T]) Token() (T, error) { return f() }

func sourceOf[T any](f func() (T, error)) sourceFunc[T] { return sourceFunc[T](f) }

// TestCredentialsSharedFetch checks that concurrent calls needing a token
// share one fetch: with every caller blocked (synctest.Wait), the source
// has been entered once, and all callers get its token.
func TestCredentialsSharedFetch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var entered atomic.Int64
		creds := authn.NewCredentials(authn.TokenFunc(func(context.Context) (string, time.Time, error) {
			n := entered.Add(1)
			<-gate
			return "token-" + strings.Repeat("x", int(n)), time.Now().Add(time.Hour), nil
		}))
		values := make(chan string, 16)
		for range 16 {
			go func() {
				value, err := creds.HeaderValue(context.Background())
				if err != nil {
					t.Error(err)
				}
				values <- value
			}()
		}
		synctest.Wait() // one caller in the source, fifteen waiting for it
		fetches := entered.Load()
		close(gate)
		got := map[string]int{}
		for range 16 {
			got[<-values]++
		}
		assert.Equal(t, fetches, int64(1), "concurrent calls fetched separately")
		assert.Equal(t, got["Bearer token-x"], 16, got)
	})
}

// countingSource mints a token valid for ttl at every fetch, on clock's
// time, and counts the fetches; when same is set it hands back its first
// token for as long as that is valid, as a caching oauth2 source does.
type countingSource struct {
	clock   *fakeClock
	ttl     time.Duration
	same    bool
	fail    atomic.Bool
	fetches atomic.Int64
	mu      sync.Mutex
	token   string
	expiry  time.Time
}

func (s *countingSource) Token(context.Context) (string, time.Time, error) {
	n := s.fetches.Add(1)
	if s.fail.Load() {
		return "", time.Time{}, errors.New("token endpoint down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if !s.same || s.token == "" || !now.Before(s.expiry) {
		s.token, s.expiry = "t"+strconv.FormatInt(n, 10), now.Add(s.ttl)
	}
	return s.token, s.expiry, nil
}

// TestCredentialsRefreshPace checks that refreshes are paced, not made on
// every call: a token living less than twice the refresh lead is refreshed
// halfway through its life; a source that keeps handing back the same
// token is asked again halfway to its expiry; a failing source is retried
// halfway to the old token's expiry.
func TestCredentialsRefreshPace(t *testing.T) {
	t.Parallel()
	calls := func(t *testing.T, creds *authn.Credentials, want string) {
		t.Helper()
		for range 100 {
			value, err := creds.HeaderValue(context.Background())
			assert.NoError(t, err)
			assert.Equal(t, value, want)
		}
	}
	t.Run("short-lived", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
		src := &countingSource{clock: clock, ttl: 30 * time.Second}
		creds := authn.NewCredentials(src, authn.WithClock(clock.Now), authn.WithRefreshBefore(time.Minute))
		calls(t, creds, "Bearer t1")
		clock.Advance(14 * time.Second)
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(1), "fetches before half the token's life")
		clock.Advance(time.Second)
		calls(t, creds, "Bearer t2")
		assert.Equal(t, src.fetches.Load(), int64(2), "fetches at half the token's life")
	})
	t.Run("same-token", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
		src := &countingSource{clock: clock, ttl: 4 * time.Minute, same: true}
		creds := authn.NewCredentials(src, authn.WithClock(clock.Now), authn.WithRefreshBefore(10*time.Minute))
		calls(t, creds, "Bearer t1")
		clock.Advance(2 * time.Minute) // half the life: ask again
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(2))
		clock.Advance(59 * time.Second) // the same token: next question at 3 minutes
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(2))
		clock.Advance(time.Second)
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(3))
		clock.Advance(time.Minute) // expired: the source mints a new one
		calls(t, creds, "Bearer t4")
		assert.Equal(t, src.fetches.Load(), int64(4))
	})
	t.Run("failing", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
		src := &countingSource{clock: clock, ttl: time.Hour}
		creds := authn.NewCredentials(src, authn.WithClock(clock.Now), authn.WithRefreshBefore(10*time.Minute))
		calls(t, creds, "Bearer t1")
		clock.Advance(52 * time.Minute) // in the refresh window, 8 minutes left
		src.fail.Store(true)
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(2), "a failing source is retried on every call")
		clock.Advance(4 * time.Minute) // halfway to the expiry
		calls(t, creds, "Bearer t1")
		assert.Equal(t, src.fetches.Load(), int64(3))
		src.fail.Store(false)
		clock.Advance(2 * time.Minute)
		calls(t, creds, "Bearer t4")
	})
}

// TestCredentialsSourcePanics: a source that panics (and a caller that
// recovers, as net/http does) must not leave later calls waiting for a
// fetch that has ended.
func TestCredentialsSourcePanics(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	creds := authn.NewCredentials(authn.TokenFunc(func(context.Context) (string, time.Time, error) {
		if n.Add(1) == 1 {
			panic("source bug")
		}
		return "t", time.Time{}, nil
	}))
	func() {
		defer func() { assert.True(t, recover() != nil, "the panic reaches the caller") }()
		_, _ = creds.HeaderValue(context.Background())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	value, err := creds.HeaderValue(ctx)
	assert.NoError(t, err, "a later call waited for the fetch that panicked")
	assert.Equal(t, value, "Bearer t")
}

// TestCredentialsFetchDeadline: the call that runs the fetch gets
// DeadlineExceeded (or Canceled) when its context ends, as calls waiting
// for the fetch do, not Unauthenticated.
func TestCredentialsFetchDeadline(t *testing.T) {
	t.Parallel()
	creds := authn.NewCredentials(authn.TokenFunc(func(ctx context.Context) (string, time.Time, error) {
		<-ctx.Done()
		return "", time.Time{}, ctx.Err()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := creds.HeaderValue(ctx)
	assert.Code(t, err, connect.CodeDeadlineExceeded)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = creds.HeaderValue(ctx)
	assert.Code(t, err, connect.CodeCanceled)
}

// TestCredentialsRoundTripperRedirect checks that the RoundTripper does not
// hand the token to another host that a redirect leads to. http.Client
// strips Authorization, set on the request, when a redirect leaves the
// initial host for one that is not a subdomain of it, and keeps it stripped
// for the rest of the chain; a RoundTripper that adds the header on every
// hop must follow the same rule, or any open redirect leaks the token.
func TestCredentialsRoundTripperRedirect(t *testing.T) {
	t.Parallel()
	var seen sync.Map // path -> Authorization header
	record := func(host string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Store(host+r.URL.Path, r.Header.Get("Authorization"))
			if target := r.URL.Query().Get("to"); target != "" {
				http.Redirect(w, r, target, http.StatusFound)
			}
		})
	}
	origin := testkit.NewServer(t, record("origin"), testkit.HTTP1)
	other := testkit.NewServer(t, record("other"), testkit.HTTP1)
	// Host names resolve to the two loopback servers: api.example.test to
	// origin, evil.test and auth.api.example.test to other.
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		target := origin.Addr.String()
		if host != "api.example.test" {
			target = other.Addr.String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: authn.StaticToken("tok").RoundTripper(transport)}
	_, originPort, _ := net.SplitHostPort(origin.Addr.String())
	_, otherPort, _ := net.SplitHostPort(other.Addr.String())
	originURL := "http://api.example.test:" + originPort
	evilURL := "http://evil.test:" + otherPort
	subURL := "http://auth.api.example.test:" + otherPort
	get := func(u string) {
		t.Helper()
		res, err := client.Get(u)
		assert.NoError(t, err)
		_ = res.Body.Close()
	}
	header := func(key string) any {
		v, _ := seen.Load(key)
		return v
	}
	get(originURL + "/same?to=/same-final")
	assert.Equal(t, header("origin/same"), any("Bearer tok"))
	assert.Equal(t, header("origin/same-final"), any("Bearer tok"), "same host")
	get(originURL + "/sub?to=" + url.QueryEscape(subURL+"/sub-final"))
	assert.Equal(t, header("other/sub-final"), any("Bearer tok"), "subdomain")
	get(originURL + "/away?to=" + url.QueryEscape(evilURL+"/evil?to="+url.QueryEscape(originURL+"/back")))
	assert.Equal(t, header("origin/away"), any("Bearer tok"))
	assert.Equal(t, header("other/evil"), any(""), "token sent to another host")
	assert.Equal(t, header("origin/back"), any(""), "token sent after leaving the host")
}
