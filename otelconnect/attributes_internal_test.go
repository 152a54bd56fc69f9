package otelconnect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestBoundedValues: captured header values come out valid UTF-8, at most
// maxHeaderValueBytes long even when replacing invalid bytes makes them
// longer, and at most maxHeaderValues of them.
func TestBoundedValues(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"clean":                   "req-1",
		"long":                    strings.Repeat("x", 4096),
		"invalid runs grow":       strings.Repeat("\xffx", 1024),
		"invalid at the boundary": strings.Repeat("x", maxHeaderValueBytes-1) + "\xff\xfe",
		"multibyte at the cut":    strings.Repeat("x", maxHeaderValueBytes-1) + "é",
		"only invalid":            strings.Repeat("\xff", 3000),
	} {
		t.Run(name, func(t *testing.T) {
			values := make([]string, maxHeaderValues+3)
			for i := range values {
				values[i] = in
			}
			out := boundedValues(values)
			if len(out) != maxHeaderValues {
				t.Fatalf("%d values, want %d", len(out), maxHeaderValues)
			}
			for _, v := range out {
				if len(v) > maxHeaderValueBytes {
					t.Fatalf("value of %d bytes", len(v))
				}
				if !utf8.ValidString(v) {
					t.Fatalf("invalid UTF-8: %q", v)
				}
				if in == "req-1" && v != in {
					t.Fatalf("clean value changed: %q", v)
				}
			}
		})
	}
}
