package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
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
// is 8 KiB.
func WithMaxTokenBytes(n int) Option {
	return optionFunc(func(v *Verifier) { v.maxToken = n })
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
	// as decoded by encoding/json.
	Extra map[string]any
}

// Verifier verifies signed JWTs against a [JWKS]: the signature (with an
// allowed algorithm and a key of the matching type), "exp" (required),
// "nbf", "iat", and "iss" and "aud" when configured. Verified tokens are
// cached (in a bounded cache) until they expire, so a token stays accepted
// until its "exp" even if its key leaves the key set meanwhile. A Verifier
// is safe for concurrent use.
type Verifier struct {
	keys      *JWKS
	algs      []jose.SignatureAlgorithm
	expected  josejwt.Expected
	leeway    time.Duration
	now       func() time.Time
	cacheSize int
	maxToken  int
	realm     string

	missing, invalid string // challenges

	mu    sync.RWMutex
	cache map[string]*Claims
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
	v.cache = make(map[string]*Claims)
	v.missing = "Bearer realm=" + strconv.Quote(v.realm)
	v.invalid = v.missing + `, error="invalid_token"`
	return v, nil
}

// errInvalid is what every failed verification reports: it never says
// which check failed.
var errInvalid = errors.New("invalid credentials")

// Verify checks token and returns its claims. Every failure is a
// [connect.CodeUnauthenticated] error with the same message, whatever was
// wrong.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	claims, err := v.verify(ctx, token)
	if err != nil {
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
		claims, ok := v.cache[token]
		v.mu.RUnlock()
		if ok && now.Before(claims.Expiry) {
			return claims, nil
		}
	}
	parsed, err := josejwt.ParseSigned(token, v.algs)
	if err != nil || len(parsed.Headers) != 1 {
		return nil, errInvalid
	}
	header := parsed.Headers[0]
	key, err := v.keys.key(ctx, header.KeyID)
	if err != nil {
		return nil, err
	}
	if !keyFits(key, header.Algorithm) {
		return nil, errInvalid
	}
	var registered josejwt.Claims
	extra := map[string]any{}
	if err := parsed.Claims(key.Key, &registered, &extra); err != nil {
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
	v.remember(token, claims, now)
	return claims, nil
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

// remember caches verified claims until the token expires, evicting
// expired entries (or, if none, an arbitrary one) when the cache is full.
func (v *Verifier) remember(token string, claims *Claims, now time.Time) {
	if v.cacheSize <= 0 || !now.Before(claims.Expiry) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.cacheSize {
		for t, c := range v.cache {
			if !now.Before(c.Expiry) {
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
	v.cache[token] = claims
}

// AuthFunc returns an authn.AuthFunc that verifies the request's bearer
// token and returns its *Claims as the identity. Rejections carry an RFC
// 6750 challenge.
func (v *Verifier) AuthFunc() authn.AuthFunc {
	return func(ctx context.Context, req *http.Request) (any, error) {
		token, ok := authn.BearerToken(req)
		if !ok {
			if req.Header.Get("Authorization") == "" {
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
