// Package assert holds the few generic test assertions connectware's tests
// use. Each reports the caller's line and stops the test on failure.
package assert

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

// Equal fails unless got and want are equal (reflect.DeepEqual).
func Equal[T any](tb testing.TB, got, want T, msg ...any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("got %#v, want %#v %s", got, want, fmtMsg(msg))
	}
}

// NoError fails if err is not nil.
func NoError(tb testing.TB, err error, msg ...any) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("unexpected error: %v %s", err, fmtMsg(msg))
	}
}

// Error fails if err is nil.
func Error(tb testing.TB, err error, msg ...any) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("expected an error %s", fmtMsg(msg))
	}
}

// True fails unless cond holds.
func True(tb testing.TB, cond bool, msg ...any) {
	tb.Helper()
	if !cond {
		tb.Fatalf("expected true %s", fmtMsg(msg))
	}
}

// Code fails unless err is a connect error with the given code.
func Code(tb testing.TB, err error, want connect.Code, msg ...any) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want code %v %s", want, fmtMsg(msg))
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		tb.Fatalf("got non-connect error %v, want code %v %s", err, want, fmtMsg(msg))
	}
	if cerr.Code() != want {
		tb.Fatalf("got code %v (%v), want %v %s", cerr.Code(), err, want, fmtMsg(msg))
	}
}

// Contains fails unless s contains sub.
func Contains(tb testing.TB, s, sub string, msg ...any) {
	tb.Helper()
	if !strings.Contains(s, sub) {
		tb.Fatalf("%q does not contain %q %s", s, sub, fmtMsg(msg))
	}
}

func fmtMsg(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("(")
	for i, m := range msg {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(toString(m))
	}
	b.WriteString(")")
	return b.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " "))
}
