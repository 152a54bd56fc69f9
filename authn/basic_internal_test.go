package authn

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// basicRequest is a request with Basic credentials for user and password.
func basicRequest(ctx context.Context, user, password string) *http.Request {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/connectware.test.v1.TestService/Ping", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	return req
}

// TestBasicAuthRejectionsCostTheCostliestHash: every rejection costs as
// much PBKDF2 work as the costliest stored hash, whether the user is
// unknown or known with a cheaper hash (padded with extra rounds), so the
// time a rejection takes does not say whether a user exists. Work is
// counted in iterations of one 32-byte block: a 64-byte hash costs twice
// its iterations. A success is not padded. Not parallel: it reads a
// package-wide counter.
func TestBasicAuthRejectionsCostTheCostliestHash(t *testing.T) {
	cheap, err := HashSecret("pw", 1_000)
	if err != nil {
		t.Fatal(err)
	}
	costly, err := HashSecret("pw", 5_000)
	if err != nil {
		t.Fatal(err)
	}
	// 3000 iterations of a 64-byte key: 6000 rounds, the costliest.
	salt := make([]byte, hashSaltLen)
	key, err := pbkdf2.Key(sha256.New, "pw", salt, 3_000, 64)
	if err != nil {
		t.Fatal(err)
	}
	long := hashPrefix + "3000$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
	auth, err := BasicAuth(map[string]string{"alice": cheap, "bob": costly, "carol": long})
	if err != nil {
		t.Fatal(err)
	}
	work := func(user, password string, wantOK bool) int64 {
		t.Helper()
		before := pbkdf2Iterations.Load()
		_, err := auth(context.Background(), basicRequest(context.Background(), user, password))
		if (err == nil) != wantOK {
			t.Fatalf("%s:%s: error %v, want accepted = %v", user, password, err, wantOK)
		}
		return pbkdf2Iterations.Load() - before
	}
	for _, user := range []string{"alice", "bob", "carol", "mallory"} {
		if got := work(user, "wrong", false); got != 6_000 {
			t.Errorf("%s with a wrong password: %d rounds, want the costliest hash's 6000", user, got)
		}
	}
	if got := work("alice", "pw", true); got != 1_000 {
		t.Errorf("alice with her password: %d rounds, want her hash's 1000", got)
	}
	if got := work("carol", "pw", true); got != 6_000 {
		t.Errorf("carol with her password: %d rounds, want her hash's 6000", got)
	}
}

// withHashHook is an unexported option that makes BasicAuth call hook as
// each hash computation starts (true) and ends (false).
func withHashHook(hook func(start bool)) ValidatorOption {
	return validatorOptionFunc(func(c *validatorConfig) { c.onHash = hook })
}

// TestBasicAuthBoundsConcurrentHashes sends many bad credentials at once
// to a real server: no more than WithMaxConcurrentHashes hash computations
// ever run together, and every request still gets its answer.
func TestBasicAuthBoundsConcurrentHashes(t *testing.T) {
	t.Parallel()
	const bound, requests = 2, 8
	hash, err := HashSecret("pw", 1_000)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	active, peak := 0, 0
	hook := func(start bool) {
		mu.Lock()
		if start {
			active++
			peak = max(peak, active)
		} else {
			active--
		}
		mu.Unlock()
		if start {
			time.Sleep(50 * time.Millisecond) // hold the turn so that others pile up
		}
	}
	auth, err := BasicAuth(map[string]string{"alice": hash}, WithMaxConcurrentHashes(bound), withHashHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(auth).Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, requests)
	for i := range requests {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := basicRequest(ctx, "user"+strconv.Itoa(i), "wrong")
			req.RequestURI = ""
			req.URL.Scheme, req.URL.Host = "http", srv.Listener.Addr().String()
			req.Header.Set("Content-Type", "application/json")
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusUnauthorized {
			t.Errorf("request %d: HTTP %d, want 401", i, code)
		}
	}
	if peak != bound {
		t.Fatalf("%d hashes ran at once, want the bound %d to be reached and never passed", peak, bound)
	}
}

// TestBasicAuthWaiterGivesUp: a request waiting for a turn to hash returns
// as soon as its context ends, with the context's code rather than
// Unauthenticated, and hashes nothing.
func TestBasicAuthWaiterGivesUp(t *testing.T) {
	t.Parallel()
	hash, err := HashSecret("pw", 1_000)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	var held atomic.Bool
	hook := func(start bool) {
		if start {
			started <- struct{}{}
			if held.CompareAndSwap(false, true) {
				<-release // the first hash holds the only turn
			}
		}
	}
	auth, err := BasicAuth(map[string]string{"alice": hash}, WithMaxConcurrentHashes(1), withHashHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var releaseOnce sync.Once
	releaseTurn := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseTurn() // even when a check below fails
	call := func(ctx context.Context, user string) <-chan error {
		result := make(chan error, 1)
		wg.Go(func() {
			_, err := auth(ctx, basicRequest(ctx, user, "wrong"))
			result <- err
		})
		return result
	}
	holder := call(context.Background(), "alice")
	<-started // the only turn is taken
	deadline, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	canceled, cancelNow := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancelNow)
	for _, c := range []struct {
		ctx  context.Context
		want connect.Code
	}{{deadline, connect.CodeDeadlineExceeded}, {canceled, connect.CodeCanceled}} {
		select {
		case err := <-call(c.ctx, "bob"):
			if connect.CodeOf(err) != c.want {
				t.Errorf("waiter whose context ended: %v, want code %v", err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("waiter still waiting 5s after its context (%v) ended", c.want)
		}
	}
	if len(started) != 0 {
		t.Error("a waiter whose context ended computed a hash")
	}
	releaseTurn()
	var ce *ChallengeError
	if err := <-holder; !errors.As(err, &ce) || connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("request holding the turn: %v, want an Unauthenticated challenge", err)
	}
}
