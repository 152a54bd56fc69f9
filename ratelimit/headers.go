package ratelimit

import (
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Response header names set by the middleware and the interceptor.
const (
	// HeaderRateLimit carries the current state of the client's bucket, in
	// the syntax and with the meaning of the IETF httpapi RateLimit header
	// fields draft (draft-ietf-httpapi-ratelimit-headers-11):
	// "default";r=50;t=30.
	HeaderRateLimit = "RateLimit"
	// HeaderRateLimitPolicy carries the policy, in the same draft's syntax:
	// "default";q=100;w=60.
	HeaderRateLimitPolicy = "RateLimit-Policy"
	// HeaderRetryAfter is the standard HTTP header (RFC 9110), in whole
	// seconds.
	HeaderRetryAfter = "Retry-After"
)

// AppendPolicyHeader appends the RateLimit-Policy field value for p: its
// name as a structured-field string, the quota q (Burst) and the window w in
// whole seconds (the time an empty bucket takes to fill, rounded up, at
// least 1).
func AppendPolicyHeader(dst []byte, p Policy) []byte {
	dst = appendSFString(dst, p.PolicyName())
	dst = append(dst, ";q="...)
	dst = strconv.AppendInt(dst, int64(max(p.Burst, 1)), 10)
	dst = append(dst, ";w="...)
	return strconv.AppendInt(dst, max(seconds(p.Window()), 1), 10)
}

// AppendRateLimitHeader appends the RateLimit field value for d: the policy
// name, the remaining quota r and the effective window t of draft -11, the
// whole seconds (rounded up) within which the client can use no more than r,
// that is until one token more than r has come back. A rejected call's t
// is therefore its Retry-After for one token, and never later than it. t is
// left out for a policy that never refills (Limit zero) or never limits
// (rate.Inf).
func AppendRateLimitHeader(dst []byte, d Decision) []byte {
	dst = appendSFString(dst, d.Policy.PolicyName())
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, max(d.Remaining, 0), 10)
	if t, ok := effectiveWindow(d); ok {
		dst = append(dst, ";t="...)
		dst = strconv.AppendInt(dst, t, 10)
	}
	return dst
}

// effectiveWindow returns the seconds, rounded up and at least one, until
// the bucket of d holds Remaining+1 tokens. d.Reset is the time until it
// holds Burst, so that is Reset less the time Burst-Remaining-1 tokens take
// (or plus one token's time, for a full bucket).
func effectiveWindow(d Decision) (int64, bool) {
	p := d.Policy
	if p.Limit == rate.Inf || p.Limit <= 0 {
		return 0, false
	}
	after := float64(p.Burst) - float64(max(d.Remaining, 0)) - 1
	secs := d.Reset.Seconds() - after/float64(p.Limit)
	// Reset was rounded up to the nanosecond; do not let that round t up
	// by a whole second.
	secs = math.Ceil(secs - 1e-6)
	switch {
	case secs < 1:
		return 1, true
	case secs >= math.MaxInt64/2:
		return math.MaxInt64 / 2, true
	}
	return int64(secs), true
}

// RetryAfterSeconds returns the Retry-After value for d: RetryAfter in whole
// seconds, rounded up, and at least 1 for a denied call.
func RetryAfterSeconds(d Decision) int64 {
	s := seconds(d.RetryAfter)
	if !d.Allowed {
		s = max(s, 1)
	}
	return s
}

// headerSetter is what both http.Header and connect-go v2's *connect.Header
// offer.
type headerSetter interface {
	Set(key, value string)
}

// setHeaders writes the rate-limit headers for d to h; Retry-After only when
// the call is rejected.
func setHeaders(h headerSetter, d Decision, rejected bool) {
	var buf [128]byte
	h.Set(HeaderRateLimitPolicy, string(AppendPolicyHeader(buf[:0], d.Policy)))
	h.Set(HeaderRateLimit, string(AppendRateLimitHeader(buf[:0], d)))
	if rejected {
		h.Set(HeaderRetryAfter, strconv.FormatInt(RetryAfterSeconds(d), 10))
	}
}

func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// appendSFString appends s as an RFC 9651 structured-field String: quoted,
// with backslash escapes; characters outside printable ASCII become '?'.
func appendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '?')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
