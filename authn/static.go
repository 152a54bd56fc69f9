package authn

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"net/http"
	"runtime"
	"strconv"
	"unsafe"
)

// A ValidatorOption configures one of this package's ready validators, such
// as [BearerTokens] or [BasicAuth].
type ValidatorOption interface {
	applyValidator(*validatorConfig)
}

type validatorOptionFunc func(*validatorConfig)

func (f validatorOptionFunc) applyValidator(c *validatorConfig) { f(c) }

type validatorConfig struct {
	realm     string
	maxHashes int
	onHash    func(start bool) // tests only: called as each hash starts and ends
}

func newValidatorConfig(opts []ValidatorOption) validatorConfig {
	c := validatorConfig{realm: "api"}
	for _, opt := range opts {
		opt.applyValidator(&c)
	}
	if c.maxHashes <= 0 {
		c.maxHashes = runtime.GOMAXPROCS(0)
	}
	return c
}

// WithRealm sets the realm named in the validator's WWW-Authenticate
// challenge. The default is "api".
func WithRealm(realm string) ValidatorOption {
	return validatorOptionFunc(func(c *validatorConfig) { c.realm = realm })
}

// WithMaxConcurrentHashes bounds how many password hashes [BasicAuth]
// computes at once; further requests wait for a turn. The default (and what
// zero or less means) is GOMAXPROCS at construction. Other validators
// ignore it.
func WithMaxConcurrentHashes(n int) ValidatorOption {
	return validatorOptionFunc(func(c *validatorConfig) { c.maxHashes = n })
}

// secretSet holds secrets and the identity of each. A lookup compares the
// presented secret with every stored one in constant time: each comparison
// reads every byte of the stored secret whatever is presented, so neither a
// length mismatch nor the position of the first wrong byte shows in the time
// taken (and the loop never stops at a match).
type secretSet struct {
	secrets [][]byte
	infos   []any
}

func newSecretSet(secrets map[string]any) secretSet {
	var s secretSet
	for secret, info := range secrets {
		if secret == "" {
			continue
		}
		s.secrets = append(s.secrets, []byte(secret))
		s.infos = append(s.infos, info)
	}
	return s
}

func (s *secretSet) lookup(presented string) (any, bool) {
	var info any
	found := 0
	for i, secret := range s.secrets {
		eq := constantTimeEqual(presented, secret)
		if eq == 1 {
			info = s.infos[i]
		}
		found |= eq
	}
	return info, found == 1
}

// constantTimeEqual returns 1 if presented equals secret and 0 otherwise.
// It reads every byte of secret whatever presented holds, with no early
// exit on a length mismatch or a wrong byte: its time depends only on the
// two lengths, never on the contents.
func constantTimeEqual(presented string, secret []byte) int {
	eq, _ := compareSecret(presented, secret)
	return eq
}

// compareSecret is constantTimeEqual, also counting the steps it took (8-
// and 1-byte reads of secret), so tests can check that they depend on
// secret's length alone. The count costs nothing once inlined and unused.
func compareSecret(presented string, secret []byte) (eq, steps int) {
	n, m := len(presented), len(secret)
	// A read-only view of presented's bytes, so that each 8-byte step is
	// one load on either side.
	p := unsafe.Slice(unsafe.StringData(presented), n)
	s := secret
	var diff uint64
	for len(s) >= 8 {
		var w uint64
		if len(p) >= 8 {
			w = binary.LittleEndian.Uint64(p)
			p = p[8:]
		} else {
			// presented is shorter: keep reading secret, against a
			// word that cannot match it unless it is all zeros, and
			// the length check below fails the call anyway.
			p = p[len(p):]
		}
		diff |= w ^ binary.LittleEndian.Uint64(s)
		s = s[8:]
		steps++
	}
	for i, c := range s {
		if i < len(p) {
			c ^= p[i]
		}
		diff |= uint64(c)
		steps++
	}
	diff |= diff >> 32
	diff |= diff >> 16
	diff |= diff >> 8
	return subtle.ConstantTimeByteEq(byte(diff), 0) & subtle.ConstantTimeEq(int32(min(n, 1<<30)), int32(m)), steps
}

// BearerTokens returns an [AuthFunc] that accepts "Authorization: Bearer
// <token>" headers carrying one of the keys of tokens, and returns the
// token's value as the identity (use a non-nil value). Comparison is
// constant-time (unequal lengths do not exit early).
// Rejections carry an RFC 6750 challenge: `Bearer realm="api"` when no token
// was sent, including when the Authorization header uses another scheme
// (such as Basic), with `error="invalid_token"` added when a wrong or
// malformed bearer token was.
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
			values := req.Header["Authorization"]
			if len(values) == 0 || values[0] == "" {
				return nil, errMissing(missing)
			}
			if len(values) == 1 && !isScheme(values[0], "Bearer") {
				// RFC 6750 section 3.1: no error code when the client
				// used another scheme.
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
