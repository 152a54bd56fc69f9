package ratelimit

import (
	"strconv"
	"time"
)

// Response header names set by the middleware and the interceptor.
const (
	// HeaderRateLimit carries the current state of the client's bucket, in
	// the syntax of the IETF httpapi RateLimit header fields draft
	// (draft-ietf-httpapi-ratelimit-headers-10/-11): "default";r=50;t=30.
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
// name, the remaining quota r and t, the whole seconds (rounded up) until
// the bucket is full again.
func AppendRateLimitHeader(dst []byte, d Decision) []byte {
	dst = appendSFString(dst, d.Policy.PolicyName())
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, max(d.Remaining, 0), 10)
	dst = append(dst, ";t="...)
	return strconv.AppendInt(dst, seconds(d.Reset), 10)
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
