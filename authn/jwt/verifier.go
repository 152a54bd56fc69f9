package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/connectware/connectware/authn"
)

// An Option configures a [Verifier].
type Option interface {
	apply(*Verifier)
}

type optionFunc func(*Verifier)

func (f optionFunc) apply(v *Verifier) { f(v) }

// WithIssuer requires the "iss" claim to equal issuer.
func WithIssuer(issuer string) Option {
	return optionFunc(func(v *Verifier) { v.expected.Issuer = issuer })
}

// WithAudience requires the "aud" claim to contain one of audiences.
func WithAudience(audiences ...string) Option {
	return optionFunc(func(v *Verifier) { v.expected.AnyAudience = append(v.expected.AnyAudience, audiences...) })
}

// WithLeeway sets the clock skew allowed when checking "exp", "nbf" and
// "iat". The default is one minute.
func WithLeeway(d time.Duration) Option {
	return optionFunc(func(v *Verifier) { v.leeway = d })
}

// WithClock sets the clock used to check times. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(v *Verifier) { v.now = now })
}

// WithCacheSize bounds the number of verified tokens remembered (each until
// it expires). The default is 10000; zero disables the cache.
func WithCacheSize(n int) Option {
	return optionFunc(func(v *Verifier) { v.cacheSize = n })
}

// WithMaxTokenBytes rejects longer tokens before parsing them. The default
// (and what zero or less means) is 8 KiB.
func WithMaxTokenBytes(n int) Option {
	return optionFunc(func(v *Verifier) { v.maxToken = n })
}

// WithType requires the token's JOSE "typ" header to be one of types, such
// as "at+jwt" for OAuth 2.0 access tokens (RFC 9068), so that a token of
// another kind from the same issuer, such as an OpenID Connect ID token
// (usually "JWT"), is refused (RFC 8725 section 3.11). Types are compared
// case-insensitively and with or without an "application/" prefix, so
// "at+jwt" also accepts "application/at+jwt" and "AT+JWT". Include "" to
// also accept tokens without a "typ" header. By default (and with no
// types) any "typ", or none, is accepted, since many identity providers
// send "JWT" for every token.
func WithType(types ...string) Option {
	return optionFunc(func(v *Verifier) {
		for _, typ := range types {
			v.types = append(v.types, mediaTypeName(typ))
		}
	})
}

// WithRealm sets the realm of the RFC 6750 challenge. The default is "api".
func WithRealm(realm string) Option {
	return optionFunc(func(v *Verifier) { v.realm = realm })
}

// Claims are the verified registered claims of a token, plus all of its
// claims in Extra. A cached token's Claims are shared by every request that
// presents it: treat them as read-only.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time // zero when absent
	IssuedAt  time.Time // zero when absent
	ID        string
	// Extra holds every claim of the payload, registered ones included,
	// as decoded by go-jose's JSON package: like encoding/json into a
	// map[string]any (numbers are float64), except that a payload with a
	// duplicate member name is rejected, and names are case-sensitive.
	Extra map[string]any
}

// Verifier verifies signed JWTs against a [JWKS]: the signature (with an
// allowed algorithm and a key of the matching type), "exp" (required),
// "nbf", "iat", and "iss", "aud" and "typ" when configured. Verified tokens
// are cached (in a bounded cache) until they expire, as long as the key that
// verified them stays in the key set: once a refresh drops that key, the
// token is verified again, and refused. A Verifier is safe for concurrent
// use.
type Verifier struct {
	keys      *JWKS
	algs      []jose.SignatureAlgorithm
	expected  josejwt.Expected
	types     []string // accepted "typ" values without "application/"; nil: any
	leeway    time.Duration
	now       func() time.Time
	cacheSize int
	maxToken  int
	realm     string

	missing, invalid string // challenges

	mu    sync.RWMutex
	cache map[string]cacheEntry
}

// cacheEntry is a verified token's claims, the key that verified it, and
// when the token stops being accepted: its "exp", or earlier by a negative
// leeway.
type cacheEntry struct {
	claims     *Claims
	expires    time.Time
	kid, alg   string // of the key
	thumbprint [sha256.Size]byte
}

// asymmetric lists the algorithms a Verifier accepts in its allow-list.
// "none" does not exist in go-jose, and HMAC algorithms are refused so that a
// public key can never serve as an HMAC secret (algorithm confusion).
var asymmetric = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"PS256": jose.PS256, "PS384": jose.PS384, "PS512": jose.PS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "ES512": jose.ES512,
	"EdDSA": jose.EdDSA,
}

// NewVerifier returns a Verifier using keys and accepting only the
// signature algorithms listed (such as "RS256", "ES256", "EdDSA"). The list
// is required; "none" and the HMAC algorithms (HS256...) are refused.
func NewVerifier(keys *JWKS, algorithms []string, opts ...Option) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("jwt: nil JWKS")
	}
	if len(algorithms) == 0 {
		return nil, errors.New("jwt: the algorithm allow-list is required")
	}
	v := &Verifier{
		keys:      keys,
		leeway:    josejwt.DefaultLeeway,
		now:       time.Now,
		cacheSize: 10000,
		maxToken:  8 << 10,
		realm:     "api",
	}
	for _, name := range algorithms {
		alg, ok := asymmetric[name]
		if !ok {
			return nil, fmt.Errorf("jwt: algorithm %q not allowed (only RS*, PS*, ES* and EdDSA)", name)
		}
		v.algs = append(v.algs, alg)
	}
	for _, opt := range opts {
		opt.apply(v)
	}
	if v.maxToken <= 0 {
		v.maxToken = 8 << 10
	}
	v.cache = make(map[string]cacheEntry)
	v.missing = "Bearer realm=" + strconv.Quote(v.realm)
	v.invalid = v.missing + `, error="invalid_token"`
	return v, nil
}

// errInvalid is what every failed verification reports: it never says
// which check failed.
var errInvalid = errors.New("invalid credentials")

// errUnavailable is what Verify reports when the key set could not be
// fetched: the token may be valid, so the client may retry.
var errUnavailable = errors.New("signing keys unavailable")

// Verify checks token and returns its claims. Every failure of the token is
// a [connect.CodeUnauthenticated] error with the same message, whatever was
// wrong, and an RFC 6750 challenge with error="invalid_token". When no key
// of the set fits the token and the set could not be fetched (no fetch has
// succeeded yet, or the latest one, such as the refetch the token
// triggered, failed), or ctx ended while the token waited for a fetch
// under way, the error is a [connect.CodeUnavailable] one without a
// challenge: the token was not judged.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	claims, err := v.verify(ctx, token)
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			return nil, connect.NewError(connect.CodeUnavailable, errUnavailable)
		}
		return nil, authn.Challenge(connect.NewError(connect.CodeUnauthenticated, errInvalid), v.invalid)
	}
	return claims, nil
}

func (v *Verifier) verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" || len(token) > v.maxToken {
		return nil, errInvalid
	}
	now := v.now()
	if v.cacheSize > 0 {
		v.mu.RLock()
		entry, ok := v.cache[token]
		v.mu.RUnlock()
		if ok && now.Before(entry.expires) {
			if v.keys.set.Load().holds(entry.kid, entry.alg, &entry.thumbprint) {
				return entry.claims, nil
			}
			// The key left the set: forget the token and judge it again.
			v.forget(token, entry.claims)
		}
	}
	parsed, err := josejwt.ParseSigned(token, v.algs)
	if err != nil || len(parsed.Headers) != 1 {
		return nil, errInvalid
	}
	header := parsed.Headers[0]
	if !v.typeAllowed(header) {
		return nil, errInvalid
	}
	var buf [maxCandidates]*setKey
	keys, err := v.keys.candidates(ctx, buf[:0], header.KeyID, header.Algorithm)
	if err != nil {
		return nil, err
	}
	var (
		registered josejwt.Claims
		extra      map[string]any
		key        *setKey
	)
	for _, candidate := range keys {
		registered, extra = josejwt.Claims{}, map[string]any{}
		if parsed.Claims(candidate.Key, &registered, &extra) == nil {
			key = candidate
			break
		}
	}
	if key == nil {
		return nil, errInvalid
	}
	if registered.Expiry == nil {
		return nil, errInvalid
	}
	if err := registered.ValidateWithLeeway(v.expected.WithTime(now), v.leeway); err != nil {
		return nil, errInvalid
	}
	claims := &Claims{
		Issuer:   registered.Issuer,
		Subject:  registered.Subject,
		Audience: []string(registered.Audience),
		Expiry:   registered.Expiry.Time(),
		ID:       registered.ID,
		Extra:    extra,
	}
	if registered.NotBefore != nil {
		claims.NotBefore = registered.NotBefore.Time()
	}
	if registered.IssuedAt != nil {
		claims.IssuedAt = registered.IssuedAt.Time()
	}
	expires := claims.Expiry
	if v.leeway < 0 {
		expires = expires.Add(v.leeway)
	}
	v.remember(token, cacheEntry{claims: claims, expires: expires, kid: key.KeyID, alg: key.Algorithm, thumbprint: key.thumbprint}, now)
	return claims, nil
}

// typeAllowed reports whether header's "typ" is one WithType allows.
func (v *Verifier) typeAllowed(header jose.Header) bool {
	if v.types == nil {
		return true
	}
	typ, _ := header.ExtraHeaders[jose.HeaderType].(string)
	typ = mediaTypeName(typ)
	for _, allowed := range v.types {
		if strings.EqualFold(typ, allowed) {
			return true
		}
	}
	return false
}

// mediaTypeName drops the "application/" prefix (in any case) of a "typ"
// value, as RFC 7515 section 4.1.9 lets senders do when no other "/"
// follows.
func mediaTypeName(typ string) string {
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(typ[:len(prefix)], prefix) && !strings.Contains(typ[len(prefix):], "/") {
		return typ[len(prefix):]
	}
	return typ
}

// keyFits reports whether key may verify a signature made with alg: the
// key's own "alg", when set, must match, and its type must suit alg.
func keyFits(key jose.JSONWebKey, alg string) bool {
	if key.Algorithm != "" && key.Algorithm != alg {
		return false
	}
	switch key.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// remember caches a verified token until it expires, evicting expired
// entries (or, if none, an arbitrary one) when the cache is full.
func (v *Verifier) remember(token string, entry cacheEntry, now time.Time) {
	if v.cacheSize <= 0 || !now.Before(entry.expires) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.cacheSize {
		for t, e := range v.cache {
			if !now.Before(e.expires) {
				delete(v.cache, t)
			}
		}
		for t := range v.cache {
			if len(v.cache) < v.cacheSize {
				break
			}
			delete(v.cache, t)
		}
	}
	v.cache[token] = entry
}

// forget drops token's cache entry if it still holds claims.
func (v *Verifier) forget(token string, claims *Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if entry, ok := v.cache[token]; ok && entry.claims == claims {
		delete(v.cache, token)
	}
}

// AuthFunc returns an authn.AuthFunc that verifies the request's bearer
// token and returns its *Claims as the identity. Rejections carry an RFC
// 6750 challenge: `Bearer realm="api"` when no token was sent, including
// when the Authorization header uses another scheme (such as Basic), with
// `error="invalid_token"` added when a bad one was. See [Verifier.Verify]
// for when the key set's failure gives [connect.CodeUnavailable] instead.
func (v *Verifier) AuthFunc() authn.AuthFunc {
	return func(ctx context.Context, req *http.Request) (any, error) {
		token, ok := authn.BearerToken(req)
		if !ok {
			values := req.Header.Values("Authorization")
			if len(values) == 0 || values[0] == "" {
				return nil, authn.Challenge(connect.NewError(connect.CodeUnauthenticated, errMissing), v.missing)
			}
			if len(values) == 1 && !isBearer(values[0]) {
				// RFC 6750 section 3.1: no error code when the client
				// used another scheme.
				return nil, authn.Challenge(connect.NewError(connect.CodeUnauthenticated, errMissing), v.missing)
			}
			return nil, authn.Challenge(connect.NewError(connect.CodeUnauthenticated, errInvalid), v.invalid)
		}
		claims, err := v.Verify(ctx, token)
		if err != nil {
			return nil, err
		}
		return claims, nil
	}
}

var errMissing = errors.New("credentials required")

// isBearer reports whether an Authorization header value uses the Bearer
// scheme (matched case-insensitively), with or without credentials.
func isBearer(value string) bool {
	const scheme = "Bearer"
	return len(value) >= len(scheme) && strings.EqualFold(value[:len(scheme)], scheme) &&
		(len(value) == len(scheme) || value[len(scheme)] == ' ')
}
