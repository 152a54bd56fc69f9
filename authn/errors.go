package authn

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// Errorf returns a [connect.CodeUnauthenticated] error with a formatted
// message, for AuthFuncs to return.
func Errorf(template string, args ...any) *connect.Error {
	return connect.NewError(connect.CodeUnauthenticated, fmt.Errorf(template, args...))
}

// Messages of the validators' errors. They never say which part of a
// credential was wrong.
const (
	msgMissing = "credentials required"
	msgInvalid = "invalid credentials"
)

// ChallengeError is an Unauthenticated error that asks the client for
// credentials with a WWW-Authenticate challenge. The [Middleware] sends the
// challenge as an HTTP response header in every protocol. Build one with
// [Challenge].
type ChallengeError struct {
	err   connect.Error
	value [1]string // the challenge, as a header value without allocating
}

// Challenge returns an error that rejects a call with err and sends
// challenge (such as `Bearer realm="api", error="invalid_token"`) in the
// WWW-Authenticate response header. An AuthFunc returns it. A nil err
// stands for an Unauthenticated "invalid credentials" error.
func Challenge(err *connect.Error, challenge string) *ChallengeError {
	if err == nil {
		err = connect.NewError(connect.CodeUnauthenticated, errInvalidText)
	}
	return &ChallengeError{err: *err, value: [1]string{challenge}}
}

// Error returns the message of the underlying *connect.Error.
func (e *ChallengeError) Error() string { return e.err.Error() }

// Unwrap returns the underlying *connect.Error.
func (e *ChallengeError) Unwrap() error { return &e.err }

// Challenge returns the WWW-Authenticate challenge.
func (e *ChallengeError) Challenge() string { return e.value[0] }

// challengeOf returns the challenge header value to send with err: its
// own, the default for Unauthenticated errors that carry none in their
// metadata, or nil.
func challengeOf(err error, fallback []string) []string {
	if challenge := challengeIn(err); challenge != nil {
		return challenge
	}
	// An empty challenge is no challenge: RFC 9110 requires at least one
	// in a WWW-Authenticate header, so the default applies, if any.
	if fallback == nil || connect.CodeOf(err) != connect.CodeUnauthenticated {
		return nil
	}
	var connectErr *connect.Error
	if errors.As(err, &connectErr) && connectErr.Meta().Get("Www-Authenticate") != "" {
		return nil // the error writer sends it (connectrpc.com/authn style)
	}
	return []string{fallback[0]}
}

// challengeIn returns the challenge of err's ChallengeError, or nil when it
// has none or an empty one.
func challengeIn(err error) []string {
	ce, ok := err.(*ChallengeError)
	if !ok {
		// Only here does a *ChallengeError variable escape (errors.As
		// takes its address), so the common case allocates nothing.
		var wrapped *ChallengeError
		if !errors.As(err, &wrapped) {
			return nil
		}
		ce = wrapped
	}
	if ce.value[0] == "" {
		return nil
	}
	return ce.value[:]
}

// asUnauthenticated turns an AuthFunc's error into an RPC error: connect
// errors keep their code, others become Unauthenticated.
func asUnauthenticated(err error) error {
	if _, ok := err.(*ChallengeError); ok {
		return err
	}
	if _, ok := err.(*connect.Error); ok {
		return err
	}
	var connectErr *connect.Error
	if errors.As(err, &connectErr) {
		return err
	}
	return connect.NewError(connect.CodeUnauthenticated, err)
}

// asPermissionDenied turns an AuthorizeFunc's error into an RPC error:
// connect errors keep their code, others become PermissionDenied.
func asPermissionDenied(err error) error {
	var connectErr *connect.Error
	if errors.As(err, &connectErr) {
		return err
	}
	return connect.NewError(connect.CodePermissionDenied, err)
}

var (
	errMissingText = errors.New(msgMissing)
	errInvalidText = errors.New(msgInvalid)
)

// errMissing is the error for a request without credentials.
func errMissing(challenge string) error {
	return &ChallengeError{err: *connect.NewError(connect.CodeUnauthenticated, errMissingText), value: [1]string{challenge}}
}

// errInvalid is the error for a request with wrong or malformed credentials.
func errInvalid(challenge string) error {
	return &ChallengeError{err: *connect.NewError(connect.CodeUnauthenticated, errInvalidText), value: [1]string{challenge}}
}
