package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/time/rate"
)

// A JWKSOption configures a [JWKS].
type JWKSOption interface {
	applyJWKS(*JWKS)
}

type jwksOptionFunc func(*JWKS)

func (f jwksOptionFunc) applyJWKS(k *JWKS) { f(k) }

// WithHTTPClient sets the client that fetches the key set. The default is
// http.DefaultClient.
func WithHTTPClient(client *http.Client) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.client = client })
}

// WithRefreshInterval sets how often the key set is fetched in the
// background. The default is 15 minutes; zero or less disables background
// refresh.
func WithRefreshInterval(d time.Duration) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.refreshInterval = d })
}

// WithRefetchInterval sets the minimum time between fetches triggered by
// tokens whose key ID is unknown (one may happen at once, then one per
// interval). Tokens arriving faster fail at once instead of waiting. The
// default is 30 seconds.
func WithRefetchInterval(d time.Duration) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.refetch = rate.NewLimiter(rate.Every(d), 1) })
}

// WithFetchTimeout bounds each fetch. The default is 10 seconds.
func WithFetchTimeout(d time.Duration) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.fetchTimeout = d })
}

// WithMaxBodyBytes bounds the size of the key set document. The default is
// 1 MiB; larger documents fail the fetch.
func WithMaxBodyBytes(n int64) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.maxBody = n })
}

// WithJWKSClock sets the clock used to pace refetches. The default is
// time.Now.
func WithJWKSClock(now func() time.Time) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.now = now })
}

// JWKS is a cached JSON Web Key Set fetched from a URL. It refreshes in the
// background, refetches (at a bounded rate) when a token names an unknown
// key ID, and keeps the last good set when a fetch fails. Only public
// signature keys are kept; each key is decoded on its own, so one
// unsupported key does not reject the set. It is safe for concurrent use.
// Call Close to stop the background refresh.
type JWKS struct {
	url             string
	client          *http.Client
	refreshInterval time.Duration
	fetchTimeout    time.Duration
	maxBody         int64
	refetch         *rate.Limiter
	now             func() time.Time

	mu   sync.RWMutex
	keys map[string]jose.JSONWebKey // by key ID

	fetchMu sync.Mutex // one fetch at a time

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// NewJWKS returns a key set fetched from url. It fetches once before
// returning (bounded by the fetch timeout) and then every refresh interval,
// in a goroutine that Close stops. It returns an error only for an invalid
// configuration: a failed first fetch is retried when a token needs a key
// (see [JWKS.Refresh] to check it at startup).
func NewJWKS(url string, opts ...JWKSOption) (*JWKS, error) {
	if url == "" {
		return nil, errors.New("jwt: empty JWKS URL")
	}
	k := &JWKS{
		url:             url,
		client:          http.DefaultClient,
		refreshInterval: 15 * time.Minute,
		fetchTimeout:    10 * time.Second,
		maxBody:         1 << 20,
		refetch:         rate.NewLimiter(rate.Every(30*time.Second), 1),
		now:             time.Now,
		keys:            map[string]jose.JSONWebKey{},
		done:            make(chan struct{}),
	}
	for _, opt := range opts {
		opt.applyJWKS(k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	_ = k.Refresh(ctx)
	go k.run(ctx)
	return k, nil
}

// run fetches on every tick until ctx ends.
func (k *JWKS) run(ctx context.Context) {
	defer close(k.done)
	if k.refreshInterval <= 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(k.refreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			_ = k.Refresh(ctx)
		}
	}
}

// Close stops the background refresh and waits for its goroutine to end.
// It is safe to call more than once.
func (k *JWKS) Close() error {
	k.closeOnce.Do(k.cancel)
	<-k.done
	return nil
}

// Refresh fetches the key set now. On failure the last good set stays in
// use and the error says why.
func (k *JWKS) Refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	return k.fetchLocked(ctx)
}

func (k *JWKS) fetchLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return fmt.Errorf("jwt: fetch JWKS: HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, k.maxBody+1))
	if err != nil {
		return fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	if int64(len(body)) > k.maxBody {
		return fmt.Errorf("jwt: fetch JWKS: document larger than %d bytes", k.maxBody)
	}
	keys, err := parseKeySet(body)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

// parseKeySet decodes the public signature keys of a JWKS document one by
// one, skipping any it cannot use.
func parseKeySet(body []byte) (map[string]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwt: parse JWKS: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil {
			continue // unsupported key type or curve
		}
		if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue // symmetric, private or encryption keys are never used
		}
		if _, dup := keys[key.KeyID]; dup {
			continue
		}
		keys[key.KeyID] = key
	}
	if len(keys) == 0 {
		return nil, errors.New("jwt: parse JWKS: no usable signature keys")
	}
	return keys, nil
}

var errUnknownKey = errors.New("jwt: unknown key")

// key returns the key with ID kid, refetching the set once (if the refetch
// rate allows, else failing at once) when it is unknown.
func (k *JWKS) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	if !k.refetch.AllowN(k.now(), 1) {
		return jose.JSONWebKey{}, errUnknownKey
	}
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	if key, ok := k.lookup(kid); ok { // fetched while we waited
		return key, nil
	}
	// The fetch outlives the request that asked for it (bounded by the
	// fetch timeout): a caller that went away must not spend the refetch
	// budget on a fetch that never reaches the server, which would leave
	// a rotated key unknown to every later request for the whole refetch
	// interval.
	_ = k.fetchLocked(context.WithoutCancel(ctx))
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	return jose.JSONWebKey{}, errUnknownKey
}

func (k *JWKS) lookup(kid string) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if kid == "" && len(k.keys) == 1 {
		for _, key := range k.keys {
			return key, true
		}
	}
	key, ok := k.keys[kid]
	return key, ok
}
