// Package jsonenc appends JSON values exactly as encoding/json's Marshal
// writes them, for the few record types that every invocation encodes
// (the spool entry, the history line, the decided entry, a window, an
// incident). json.Marshal builds each type's encoder by reflection the
// first time it meets the type, and every invocation is a new process
// meeting its types for the first time: perf showed that as a measurable
// part of a run (encoding/json.typeFields). The callers' tests hold
// their output byte for byte to json.Marshal's; this package's tests
// hold each piece to it.
package jsonenc

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// String appends s quoted as encoding/json's Marshal quotes it: '"' and
// '\\' escaped, the control characters as \b, \f, \n, \r, \t or \u00XX,
// '<', '>' and '&' as \u003c, \u003e, \u0026 (Marshal's HTML escaping),
// U+2028 and U+2029 as \u2028 and \u2029, and each byte of invalid UTF-8
// as \ufffd (so the output is always valid JSON; as with json.Marshal,
// such a byte reads back as U+FFFD).
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Time appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, in t's own zone); false, and b unchanged, for what
// MarshalJSON refuses (a year outside 0-9999).
func Time(b []byte, t time.Time) ([]byte, bool) {
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}

// Map appends m as encoding/json does: keys in sorted order.
func Map(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, k)
		b = append(b, ':')
		b = String(b, m[k])
	}
	return append(b, '}')
}

// Key appends "name": after a comma unless it is the object's first
// member (b ends with its '{', which no member's value ends with). name
// is written as it is: the callers' names need no escaping.
func Key(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// Int appends n in decimal.
func Int(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
