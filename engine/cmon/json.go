package cmon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted bounds how much of a bad value an error message repeats, so a
// 1 MiB string cannot turn into a 1 MiB log line.
const maxQuoted = 64

// parseObject checks data is exactly one JSON object and returns its
// members with their raw, unparsed values. Raw values keep numbers as
// the exact text CMON wrote, which is what alarm ids need.
func parseObject(data []byte) (map[string]json.RawMessage, error) {
	if len(data) == 0 {
		return nil, errors.New("cmon: empty input")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, fmt.Errorf("cmon: binary input: NUL byte at offset %d", i)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("cmon: binary input: invalid UTF-8 at offset %d", invalidUTF8(data))
	}
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	if start == len(data) {
		return nil, errors.New("cmon: input is only whitespace")
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("cmon: truncated JSON: input ends at byte offset %d", len(data))
		case errors.As(err, &syn):
			off := syn.Offset
			if off > 0 {
				off-- // Offset counts the bad byte; report its position.
			}
			return nil, fmt.Errorf("cmon: invalid JSON at byte offset %d: %s", off, oneLine(syn.Error()))
		default:
			return nil, fmt.Errorf("cmon: invalid JSON: %s", oneLine(err.Error()))
		}
	}
	if kind := kindOf(raw); kind != "object" {
		return nil, fmt.Errorf("cmon: input is a JSON %s, not an object", kind)
	}
	end := int(dec.InputOffset())
	rest := bytes.TrimLeft(data[end:], " \t\r\n")
	if len(rest) > 0 {
		return nil, fmt.Errorf("cmon: trailing data after the JSON object at byte offset %d: %s",
			len(data)-len(rest), quote(string(rest)))
	}
	return members(raw)
}

// members splits a raw JSON object, already known to be valid.
func members(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("cmon: invalid JSON: %s", oneLine(err.Error()))
	}
	return m, nil
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// kindOf names the JSON type of a valid raw value by its first byte.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// text renders a raw JSON value the way policies see it in fields:
// strings unquoted, numbers in their exact spelling, null as "", and
// objects and arrays as compact JSON.
func text(raw json.RawMessage) string {
	switch kindOf(raw) {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case "null":
		return ""
	case "object", "array":
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String()
		}
	}
	return string(bytes.TrimSpace(raw))
}

// shown is a raw value as an error message repeats it: a number as is,
// anything else quoted; always short and on one line.
func shown(raw json.RawMessage) string {
	switch kindOf(raw) {
	case "number", "boolean", "null":
		s := string(bytes.TrimSpace(raw))
		if len(s) <= maxQuoted {
			return s
		}
		return quote(s)
	case "string":
		return quote(text(raw))
	}
	return "a JSON " + kindOf(raw)
}

// quote is %q of s cut to maxQuoted bytes (on a rune boundary), marking
// the cut with "...".
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// oneLine guards against library messages that might carry a newline.
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", `\n`)
}
