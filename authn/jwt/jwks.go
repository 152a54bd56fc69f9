package jwt

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
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

// WithHTTPClient sets the client that fetches the key set. The default (and
// what nil means) is a client like http.DefaultClient that refuses to follow
// a redirect from https to http. A client whose CheckRedirect is nil gets
// that same redirect policy (it is copied, not modified); one with its own
// CheckRedirect keeps it.
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
// tokens for which the set holds no suitable key, such as tokens naming an
// unknown key ID (one may happen at once, then one per interval). Tokens
// that arrive while such a fetch runs wait for it (or for their context to
// end); those arriving later within the interval fail at once instead of
// waiting. The default is 30
// seconds. Zero or less means tokens never trigger a fetch: the set changes
// only through the background refresh and [JWKS.Refresh], and a failed
// first fetch is only retried by them.
func WithRefetchInterval(d time.Duration) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) {
		if d <= 0 {
			k.refetch = nil
			return
		}
		k.refetch = rate.NewLimiter(rate.Every(d), 1)
	})
}

// WithFetchTimeout bounds each fetch. The default (and what zero or less
// means) is 10 seconds.
func WithFetchTimeout(d time.Duration) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.fetchTimeout = d })
}

// WithMaxBodyBytes bounds the size of the key set document. The default
// (and what zero or less means) is 1 MiB; larger documents fail the fetch.
func WithMaxBodyBytes(n int64) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.maxBody = n })
}

// WithJWKSClock sets the clock used to pace refetches. The default is
// time.Now.
func WithJWKSClock(now func() time.Time) JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.now = now })
}

// WithInsecureHTTP lets [NewJWKS] accept an http:// URL whose host is not a
// loopback address. Without it such a URL is an error: whoever can alter
// the plain-text response on the way can substitute their own keys and
// sign any token. Use it only where the network path is otherwise trusted.
func WithInsecureHTTP() JWKSOption {
	return jwksOptionFunc(func(k *JWKS) { k.insecureHTTP = true })
}

// Defaults of the JWKS options.
const (
	defaultRefreshInterval = 15 * time.Minute
	defaultRefetchInterval = 30 * time.Second
	defaultFetchTimeout    = 10 * time.Second
	defaultMaxBody         = 1 << 20
	maxRedirects           = 10 // as http.Client's default policy
)

// checkRedirect is http.Client's default redirect policy (at most 10
// redirects) that also refuses to go from https to anything else, which
// would hand the key set to whoever sits on the plain-text path, and holds
// every hop to the rules of the JWKS URL (see checkURL): without
// WithInsecureHTTP, a loopback http URL may not redirect to plain http
// elsewhere.
func checkRedirect(insecure bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("jwt: fetch JWKS: stopped after %d redirects", maxRedirects)
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("jwt: fetch JWKS: refusing a redirect from https to %s", req.URL.Scheme)
		}
		if err := checkURL(req.URL.String(), insecure); err != nil {
			return fmt.Errorf("jwt: fetch JWKS: refusing a redirect: %w", err)
		}
		return nil
	}
}

// JWKS is a cached JSON Web Key Set fetched from a URL. It refreshes in the
// background, refetches (at a bounded rate) when a token names a key the set
// does not hold, and keeps the last good set when a fetch fails. Only public
// signature keys are kept (not those whose "use" or "key_ops" says
// otherwise); each key is decoded on its own, so one unsupported key does
// not reject the set. Several keys may share a key ID (or have none): a
// token is checked against those whose ID matches its "kid" and whose type
// and "alg" suit its algorithm, or, when none has its ID, against the keys
// that have no ID. A token without a "kid" is checked against every
// suitable key, at most four, those without an ID first. It is safe for
// concurrent use. Call Close to stop the background refresh.
type JWKS struct {
	url             string
	client          *http.Client
	refreshInterval time.Duration
	fetchTimeout    time.Duration
	maxBody         int64
	refetch         *rate.Limiter // nil: tokens never trigger a fetch
	now             func() time.Time
	insecureHTTP    bool

	set   atomic.Pointer[keySet] // nil until a fetch succeeds
	stale atomic.Bool            // the latest fetch failed

	fetchMu sync.Mutex // one fetch at a time

	refetchMu  sync.Mutex
	refetching chan struct{} // closed when the token-triggered fetch in flight ends; nil if none

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// NewJWKS returns a key set fetched from url. It fetches once before
// returning (bounded by the fetch timeout) and then every refresh interval,
// in a goroutine that Close stops. It returns an error only for an invalid
// configuration: an empty or unparsable URL, a scheme other than https or
// http, or an http URL whose host is not a loopback address (unless
// [WithInsecureHTTP] is given). A failed first fetch is retried when a
// token needs a key (see [JWKS.Refresh] to check it at startup); until one
// succeeds, verifications fail with [connect.CodeUnavailable].
func NewJWKS(rawURL string, opts ...JWKSOption) (*JWKS, error) {
	if rawURL == "" {
		return nil, errors.New("jwt: empty JWKS URL")
	}
	k := &JWKS{
		url:             rawURL,
		refreshInterval: defaultRefreshInterval,
		fetchTimeout:    defaultFetchTimeout,
		maxBody:         defaultMaxBody,
		refetch:         rate.NewLimiter(rate.Every(defaultRefetchInterval), 1),
		now:             time.Now,
		done:            make(chan struct{}),
	}
	for _, opt := range opts {
		opt.applyJWKS(k)
	}
	if err := checkURL(rawURL, k.insecureHTTP); err != nil {
		return nil, err
	}
	if k.client == nil {
		k.client = &http.Client{CheckRedirect: checkRedirect(k.insecureHTTP)}
	} else if k.client.CheckRedirect == nil {
		client := *k.client
		client.CheckRedirect = checkRedirect(k.insecureHTTP)
		k.client = &client
	}
	if k.fetchTimeout <= 0 {
		k.fetchTimeout = defaultFetchTimeout
	}
	if k.maxBody <= 0 {
		k.maxBody = defaultMaxBody
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	_ = k.Refresh(ctx)
	go k.run(ctx)
	return k, nil
}

// checkURL accepts https URLs, and http URLs on a loopback host or when
// insecure is set.
func checkURL(rawURL string, insecure bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("jwt: JWKS URL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("jwt: JWKS URL %q has no host", rawURL)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); insecure || host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("jwt: JWKS URL %q: plain http is only accepted on a loopback host (see WithInsecureHTTP)", rawURL)
	}
	return fmt.Errorf("jwt: JWKS URL %q: scheme must be https or http", rawURL)
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

// fetchLocked fetches and installs the key set, recording whether it
// failed. The caller holds fetchMu.
func (k *JWKS) fetchLocked(ctx context.Context) error {
	set, err := k.download(ctx)
	if err != nil {
		k.stale.Store(true)
		return err
	}
	k.set.Store(set)
	k.stale.Store(false)
	return nil
}

func (k *JWKS) download(ctx context.Context) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, k.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("jwt: fetch JWKS: HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, k.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch JWKS: %w", err)
	}
	if int64(len(body)) > k.maxBody {
		return nil, fmt.Errorf("jwt: fetch JWKS: document larger than %d bytes", k.maxBody)
	}
	return parseKeySet(body)
}

// setKey is one key of a [keySet], with its RFC 7638 thumbprint: what a
// cached verification remembers to check, cheaply, that the set still
// holds the key that verified it.
type setKey struct {
	jose.JSONWebKey
	thumbprint [sha256.Size]byte
}

// keySet is an immutable parsed key set.
type keySet struct {
	byID map[string][]*setKey // by key ID, in document order; "" for keys without one
	all  []*setKey            // in document order
}

// maxCandidates bounds the keys one token is checked against, and so the
// signature verifications a token can cost.
const maxCandidates = 4

// parseKeySet decodes the public signature keys of a JWKS document one by
// one, skipping any it cannot use and exact duplicates.
func parseKeySet(body []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwt: parse JWKS: %w", err)
	}
	set := &keySet{byID: make(map[string][]*setKey, len(doc.Keys))}
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil {
			continue // unsupported key type or curve
		}
		if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") || !mayVerify(raw) {
			continue // symmetric, private or encryption keys are never used
		}
		thumbprint, err := key.Thumbprint(crypto.SHA256)
		if err != nil || len(thumbprint) != sha256.Size {
			continue
		}
		sk := &setKey{JSONWebKey: key}
		copy(sk.thumbprint[:], thumbprint)
		if set.holds(key.KeyID, key.Algorithm, &sk.thumbprint) {
			continue // listed twice
		}
		set.byID[key.KeyID] = append(set.byID[key.KeyID], sk)
		set.all = append(set.all, sk)
	}
	if len(set.all) == 0 {
		return nil, errors.New("jwt: parse JWKS: no usable signature keys")
	}
	return set, nil
}

// mayVerify reports whether a JWK's "key_ops", which go-jose does not
// read, is absent or includes "verify" (RFC 7517 section 4.3).
func mayVerify(raw json.RawMessage) bool {
	var key struct {
		Ops *[]string `json:"key_ops"`
	}
	if err := json.Unmarshal(raw, &key); err != nil {
		return false
	}
	return key.Ops == nil || slices.Contains(*key.Ops, "verify")
}

// holds reports whether s has a key with ID kid, "alg" alg and the given
// thumbprint. It is safe on a nil set and does not allocate.
func (s *keySet) holds(kid, alg string, thumbprint *[sha256.Size]byte) bool {
	if s == nil {
		return false
	}
	for _, key := range s.byID[kid] {
		if key.thumbprint == *thumbprint && key.Algorithm == alg {
			return true
		}
	}
	return false
}

// fitting appends to dst (up to maxCandidates in all) the keys of s that
// may verify a token with key ID kid signed with alg: those with ID kid,
// or when the set has no key with that ID, those without an ID; for a token
// without a key ID, every key, those without an ID first.
func (s *keySet) fitting(dst []*setKey, kid, alg string) []*setKey {
	if s == nil {
		return dst
	}
	add := func(keys []*setKey, skipID bool) {
		for _, key := range keys {
			if len(dst) == maxCandidates {
				return
			}
			if (!skipID || key.KeyID != "") && keyFits(key.JSONWebKey, alg) {
				dst = append(dst, key)
			}
		}
	}
	if kid != "" {
		if named := s.byID[kid]; len(named) > 0 {
			add(named, false)
			return dst
		}
	}
	add(s.byID[""], false)
	if kid == "" {
		add(s.all, true)
	}
	return dst
}

var (
	// errUnknownKey: the set was fetched and holds no key for the token.
	errUnknownKey = errors.New("jwt: unknown key")
	// errKeysUnavailable: no key fits the token, and the set could not be
	// fetched (ever, or the latest time), so the key may well exist.
	errKeysUnavailable = errors.New("jwt: key set unavailable")
)

// candidates appends to dst the keys that may verify a token with key ID
// kid signed with alg (see [keySet.fitting]). When there are none it
// waits for the token-triggered fetch under way, if any (or for ctx to
// end), or else refetches the set once (if the refetch rate allows, else
// failing at once). The error is errUnknownKey when a current set holds no
// such key, errKeysUnavailable when there is no set, the latest fetch
// failed, or ctx ended while waiting.
func (k *JWKS) candidates(ctx context.Context, dst []*setKey, kid, alg string) ([]*setKey, error) {
	if keys := k.set.Load().fitting(dst, kid, alg); len(keys) > len(dst) {
		return keys, nil
	}
	k.refetchMu.Lock()
	if wait := k.refetching; wait != nil {
		// A token-triggered fetch is under way, maybe for this very key:
		// its result, not the set it replaces, judges the token.
		k.refetchMu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return dst, errKeysUnavailable // not judged
		}
		return k.fit(dst, kid, alg)
	}
	if k.refetch == nil || !k.refetch.AllowN(k.now(), 1) {
		k.refetchMu.Unlock()
		return dst, k.missing()
	}
	done := make(chan struct{})
	k.refetching = done
	k.refetchMu.Unlock()
	defer func() {
		k.refetchMu.Lock()
		k.refetching = nil
		k.refetchMu.Unlock()
		close(done)
	}()
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	if keys := k.set.Load().fitting(dst, kid, alg); len(keys) > len(dst) { // fetched while we waited
		return keys, nil
	}
	// The fetch outlives the request that asked for it (bounded by the
	// fetch timeout): a caller that went away must not spend the refetch
	// budget on a fetch that never reaches the server, which would leave
	// a rotated key unknown to every later request for the whole refetch
	// interval.
	_ = k.fetchLocked(context.WithoutCancel(ctx))
	return k.fit(dst, kid, alg)
}

// fit appends to dst the keys of the current set that fit a token with key
// ID kid signed with alg, or returns k.missing() when none does.
func (k *JWKS) fit(dst []*setKey, kid, alg string) ([]*setKey, error) {
	if keys := k.set.Load().fitting(dst, kid, alg); len(keys) > len(dst) {
		return keys, nil
	}
	return dst, k.missing()
}

// missing is the error for a token no key of the set fits.
func (k *JWKS) missing() error {
	if k.set.Load() == nil || k.stale.Load() {
		return errKeysUnavailable
	}
	return errUnknownKey
}
