package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
)

// A ValidatorOption configures one of this package's ready validators, such
// as [BearerTokens] or [BasicAuth].
type ValidatorOption interface {
	applyValidator(*validatorConfig)
}

type validatorOptionFunc func(*validatorConfig)

func (f validatorOptionFunc) applyValidator(c *validatorConfig) { f(c) }

type validatorConfig struct {
	realm string
}

func newValidatorConfig(opts []ValidatorOption) validatorConfig {
	c := validatorConfig{realm: "api"}
	for _, opt := range opts {
		opt.applyValidator(&c)
	}
	return c
}

// WithRealm sets the realm named in the validator's WWW-Authenticate
// challenge. The default is "api".
func WithRealm(realm string) ValidatorOption {
	return validatorOptionFunc(func(c *validatorConfig) { c.realm = realm })
}

// secretSet holds SHA-256 digests of secrets and the identity of each. A
// lookup hashes the presented secret and compares it with every digest in
// constant time, so neither the length of a secret nor the position of the
// first wrong byte shows in the time taken.
type secretSet struct {
	digests [][sha256.Size]byte
	infos   []any
}

func newSecretSet(secrets map[string]any) secretSet {
	var s secretSet
	for secret, info := range secrets {
		if secret == "" {
			continue
		}
		s.digests = append(s.digests, sha256.Sum256([]byte(secret)))
		s.infos = append(s.infos, info)
	}
	return s
}

func (s *secretSet) lookup(secret string) (any, bool) {
	digest := sha256.Sum256([]byte(secret))
	var info any
	found := 0
	for i := range s.digests {
		eq := subtle.ConstantTimeCompare(digest[:], s.digests[i][:])
		if eq == 1 {
			info = s.infos[i]
		}
		found |= eq
	}
	return info, found == 1
}

// BearerTokens returns an [AuthFunc] that accepts "Authorization: Bearer
// <token>" headers carrying one of the keys of tokens, and returns the
// token's value as the identity (use a non-nil value). Comparison is
// constant-time (on SHA-256 digests, so unequal lengths do not exit early).
// Rejections carry an RFC 6750 challenge: `Bearer realm="api"` when no token
// was sent, with `error="invalid_token"` added when a wrong one was.
//
// The map is copied; empty tokens are ignored.
func BearerTokens(tokens map[string]any, opts ...ValidatorOption) AuthFunc {
	cfg := newValidatorConfig(opts)
	set := newSecretSet(tokens)
	missing := "Bearer realm=" + strconv.Quote(cfg.realm)
	invalid := missing + `, error="invalid_token"`
	return func(_ context.Context, req *http.Request) (any, error) {
		token, ok := BearerToken(req)
		if !ok {
			if req.Header.Get("Authorization") == "" {
				return nil, errMissing(missing)
			}
			return nil, errInvalid(invalid)
		}
		if info, ok := set.lookup(token); ok {
			return info, nil
		}
		return nil, errInvalid(invalid)
	}
}

// APIKeys returns an [AuthFunc] that accepts requests whose header (such as
// "X-API-Key") holds one of the keys of keys, and returns the key's value as
// the identity (use a non-nil value). Comparison is constant-time, as in
// [BearerTokens]. Rejections carry the challenge `APIKey realm="api",
// header="X-API-Key"` (there is no registered scheme for API keys).
//
// The map is copied; empty keys are ignored.
func APIKeys(header string, keys map[string]any, opts ...ValidatorOption) AuthFunc {
	cfg := newValidatorConfig(opts)
	set := newSecretSet(keys)
	header = http.CanonicalHeaderKey(header)
	challenge := "APIKey realm=" + strconv.Quote(cfg.realm) + ", header=" + strconv.Quote(header)
	return func(_ context.Context, req *http.Request) (any, error) {
		values := req.Header[header]
		if len(values) == 0 || values[0] == "" {
			return nil, errMissing(challenge)
		}
		if len(values) > 1 {
			return nil, errInvalid(challenge)
		}
		if info, ok := set.lookup(values[0]); ok {
			return info, nil
		}
		return nil, errInvalid(challenge)
	}
}
