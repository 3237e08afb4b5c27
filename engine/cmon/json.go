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

	"notifier/internal/jsonkeys"
)

// maxQuoted bounds how much of a bad value an error message repeats, so a
// 1 MiB string cannot turn into a 1 MiB log line.
const maxQuoted = 64

// parseObject checks data is exactly one JSON object and returns its
// members, decoded in the same pass: strings unquoted, numbers as
// json.Number (the exact text CMON wrote, which alarm ids need), nested
// objects and arrays as map[string]any and []any.
//
// Decoding into an interface value is deliberate. The binary decodes one
// message per process, so what counts is the first call, and that is
// dominated by set-up rather than bytes: the interface path builds maps
// and strings directly, with no per-type reflection, where splitting into
// json.RawMessage members took three passes and unquoted every string on
// its own.
func parseObject(data []byte) (map[string]any, error) {
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
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
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
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cmon: input is a JSON %s, not an object", kindOf(v))
	}
	end := int(dec.InputOffset())
	rest := bytes.TrimLeft(data[end:], " \t\r\n")
	if len(rest) > 0 {
		return nil, fmt.Errorf("cmon: trailing data after the JSON object at byte offset %d: %s",
			len(data)-len(rest), quote(string(rest)))
	}
	// encoding/json lets the last of two equal keys win: an "action"
	// given twice must not be read as whichever came last.
	if err := jsonkeys.Check(data); err != nil {
		return nil, fmt.Errorf("cmon: invalid JSON: %w", err)
	}
	return top, nil
}

// nested sets dst[k] for every object or array member k of f to its
// compact JSON as sent. The decoded maps cannot give that text: encoding
// them again would sort keys, drop duplicates and re-escape strings. So
// this reads the (already validated) input a second time; alarms rarely
// nest, so only they pay for it.
func (f fields) nested(dst map[string]string) error {
	raw, err := members(f.src)
	if err != nil {
		return err
	}
	if f.inAlarm {
		if raw, err = members(raw["alarm"]); err != nil {
			return err
		}
	}
	for k, v := range f.vals {
		switch v.(type) {
		case map[string]any, []any:
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw[k]); err != nil {
				return fmt.Errorf("cmon: invalid JSON: %s", oneLine(err.Error()))
			}
			dst[k] = buf.String()
		}
	}
	return nil
}

// members splits a raw JSON object, already known to be valid.
func members(raw []byte) (map[string]json.RawMessage, error) {
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

// kindOf names the JSON type of a value as parseObject decodes it.
func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "nothing"
}

// text renders a scalar the way policies see it in fields: strings
// unquoted, numbers in their exact spelling, true/false, and null as "".
// Objects and arrays are rendered by nested, from the input.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// shown is a value as an error message repeats it: a number as is,
// anything else quoted; always short and on one line.
func shown(v any) string {
	switch kind := kindOf(v); kind {
	case "null":
		return "null"
	case "number", "boolean":
		if s := text(v); len(s) <= maxQuoted {
			return s
		}
		return quote(text(v))
	case "string":
		return quote(text(v))
	default:
		return "a JSON " + kind
	}
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
