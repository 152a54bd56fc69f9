package authn

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"
)

// DefaultHashIterations is the PBKDF2-HMAC-SHA256 iteration count
// [HashSecret] uses when given zero: OWASP's 2023 recommendation.
const DefaultHashIterations = 600_000

const (
	hashPrefix  = "$pbkdf2-sha256$i="
	hashSaltLen = 16
	hashKeyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashSecret hashes secret with PBKDF2-HMAC-SHA256 (from the standard
// library), a random 16-byte salt and iterations rounds (zero means
// [DefaultHashIterations]), and returns it in the PHC string format
// "$pbkdf2-sha256$i=<iterations>$<salt>$<hash>" that [BasicAuth] reads.
// Lower counts are fine for long random secrets, not for passwords.
func HashSecret(secret string, iterations int) (string, error) {
	if iterations <= 0 {
		iterations = DefaultHashIterations
	}
	salt := make([]byte, hashSaltLen)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, secret, salt, iterations, hashKeyLen)
	if err != nil {
		return "", fmt.Errorf("authn: hash secret: %w", err)
	}
	return hashPrefix + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// hashedSecret is a parsed HashSecret string.
type hashedSecret struct {
	iterations int
	salt, key  []byte
}

func parseHashedSecret(s string) (hashedSecret, error) {
	rest, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return hashedSecret{}, errors.New("not a $pbkdf2-sha256$ hash")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return hashedSecret{}, errors.New("want $pbkdf2-sha256$i=N$salt$hash")
	}
	iterations, err := strconv.Atoi(parts[0])
	if err != nil || iterations <= 0 {
		return hashedSecret{}, errors.New("bad iteration count")
	}
	salt, err := b64.DecodeString(parts[1])
	if err != nil || len(salt) < 8 {
		return hashedSecret{}, errors.New("bad salt")
	}
	key, err := b64.DecodeString(parts[2])
	if err != nil || len(key) < 16 {
		return hashedSecret{}, errors.New("bad hash")
	}
	return hashedSecret{iterations: iterations, salt: salt, key: key}, nil
}

// pbkdf2Iterations counts the PBKDF2 work verify and pad have done, in
// iterations of one 32-byte block, so tests can check that a rejection
// costs what they expect (one atomic add beside thousands of hash rounds).
var pbkdf2Iterations atomic.Int64

// work is the cost of verifying h: PBKDF2 runs its iterations once per
// 32-byte block of the derived key.
func (h hashedSecret) work() int {
	blocks := (len(h.key) + sha256.Size - 1) / sha256.Size
	if h.iterations > math.MaxInt/blocks {
		return math.MaxInt
	}
	return h.iterations * blocks
}

// verify reports, in constant time for a given hash, whether secret matches.
func (h hashedSecret) verify(secret string) bool {
	pbkdf2Iterations.Add(int64(h.work()))
	key, err := pbkdf2.Key(sha256.New, secret, h.salt, h.iterations, len(h.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// pad runs iterations rounds of PBKDF2 (one block) for nothing but the time
// they take.
func pad(iterations int) {
	if iterations <= 0 {
		return
	}
	pbkdf2Iterations.Add(int64(iterations))
	_, _ = pbkdf2.Key(sha256.New, "", make([]byte, hashSaltLen), iterations, sha256.Size)
}

// BasicAuth returns an [AuthFunc] for HTTP Basic authentication (RFC 7617)
// against users, which maps user names to secrets hashed by [HashSecret]. The
// identity is the user name (a string; see [InfoAs]).
//
// Every rejection costs the hashing of the costliest stored hash: an
// unknown user is hashed at that cost, and a wrong password of a user whose
// hash is cheaper is followed by extra hashing up to it. Both get the same
// error, so neither the message nor the time taken says whether the user
// exists. Successful checks are remembered (as HMAC-SHA256 digests under a
// per-process random key, at most 1024) so a client that sends the same
// credentials on every call pays for PBKDF2 once. Rejections carry the
// challenge `Basic realm="api", charset="UTF-8"`.
//
// Each check that is not remembered costs a full PBKDF2 computation (about
// a third of a CPU second at [DefaultHashIterations]), so at most
// [WithMaxConcurrentHashes] (by default GOMAXPROCS) run at once, and the
// others wait their turn. A request whose context ends while it waits fails
// with [connect.CodeCanceled] or [connect.CodeDeadlineExceeded]. This keeps
// a flood of bad credentials from taking every CPU, but not from making
// legitimate requests wait: put a rate limit (per client IP, for example)
// in front of BasicAuth on any endpoint an attacker can reach.
//
// It returns an error if a hash is malformed.
func BasicAuth(users map[string]string, opts ...ValidatorOption) (AuthFunc, error) {
	cfg := newValidatorConfig(opts)
	hashes := make(map[string]hashedSecret, len(users))
	maxWork := 1
	for user, encoded := range users {
		h, err := parseHashedSecret(encoded)
		if err != nil {
			return nil, fmt.Errorf("authn: user %q: %w", user, err)
		}
		hashes[user] = h
		maxWork = max(maxWork, h.work())
	}
	dummy := hashedSecret{iterations: maxWork, salt: make([]byte, hashSaltLen), key: make([]byte, hashKeyLen)}
	cache := newVerifiedCache(1024)
	challenge := "Basic realm=" + strconv.Quote(cfg.realm) + `, charset="UTF-8"`
	hashing := make(chan struct{}, cfg.maxHashes)
	onHash := cfg.onHash
	return func(ctx context.Context, req *http.Request) (any, error) {
		values := req.Header["Authorization"]
		if len(values) == 0 || values[0] == "" {
			return nil, errMissing(challenge)
		}
		if len(values) > 1 {
			return nil, errInvalid(challenge) // the field may appear only once
		}
		user, password, ok := parseBasic(values[0])
		if !ok {
			return nil, errInvalid(challenge)
		}
		digest := cache.digest(user, password)
		if cache.has(digest) {
			return user, nil
		}
		h, known := hashes[user]
		if !known {
			h = dummy
		}
		if err := ctx.Err(); err != nil {
			return nil, connect.NewError(contextCode(err), err)
		}
		select {
		case hashing <- struct{}{}:
		case <-ctx.Done():
			return nil, connect.NewError(contextCode(ctx.Err()), ctx.Err())
		}
		if onHash != nil {
			onHash(true)
		}
		ok = h.verify(password) && known
		if !ok {
			pad(maxWork - h.work())
		}
		if onHash != nil {
			onHash(false)
		}
		<-hashing
		if !ok {
			return nil, errInvalid(challenge)
		}
		cache.add(digest)
		return user, nil
	}, nil
}

// verifiedCache remembers credentials that passed verification.
type verifiedCache struct {
	key  [32]byte
	max  int
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{max: size, seen: make(map[[sha256.Size]byte]struct{})}
	_, _ = rand.Read(c.key[:])
	return c
}

func (c *verifiedCache) digest(user, password string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, c.key[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var out [sha256.Size]byte
	mac.Sum(out[:0])
	return out
}

func (c *verifiedCache) has(digest [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[digest]
	return ok
}

func (c *verifiedCache) add(digest [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= c.max {
		for k := range c.seen { // evict an arbitrary entry
			delete(c.seen, k)
			break
		}
	}
	c.seen[digest] = struct{}{}
}
