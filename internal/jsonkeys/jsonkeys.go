// Package jsonkeys finds an object key given twice in a JSON document.
// encoding/json accepts duplicates silently, the last one winning, so
// `{"action":"remove", ..., "action":"new"}` would page where its writer
// (or an attacker who appended a member) meant something else: input from
// users and alarm sources is checked with Check after it decodes.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxShown bounds how much of a key an error repeats.
const maxShown = 64

// DuplicateError is a key given twice in one object.
type DuplicateError struct {
	// Key is the duplicated key.
	Key string
	// In is where the object is, as a path from the top: "" for the
	// top-level object, else e.g. "alarm" or "items[2]".
	In string
	// Offset is the byte offset of the second occurrence's opening quote.
	Offset int64
}

// Error is one line: the key, where, and the offset.
func (e *DuplicateError) Error() string {
	in := ""
	if e.In != "" {
		in = " in " + e.In
	}
	return fmt.Sprintf("duplicate key %s%s at byte offset %d", quote(e.Key), in, e.Offset)
}

// errStop ends the walk on input that does not decode: reporting that is
// the decoder's job, with its own position.
var errStop = errors.New("jsonkeys: not valid JSON")

// Check returns a *DuplicateError for the first key given twice in one
// object of data, or nil. Call it on input that already decoded (which
// bounds its nesting); on input that does not, it returns nil.
func Check(data []byte) error {
	// Most input has no duplicate: a scan of the bytes as written says so
	// without decoding; the walk below finds the key and where.
	if !fastScan(data) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var dup *DuplicateError
	if err := walk(dec, data, ""); errors.As(err, &dup) {
		return dup
	}
	return nil
}

// walk reads one value from dec; path names it.
func walk(dec *json.Decoder, data []byte, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return errStop
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			before := dec.InputOffset()
			tok, err := dec.Token()
			if err != nil {
				return errStop
			}
			key, ok := tok.(string)
			if !ok {
				return errStop
			}
			if seen[key] {
				start := before + int64(bytes.IndexByte(data[before:dec.InputOffset()], '"'))
				return &DuplicateError{Key: key, In: path, Offset: start}
			}
			seen[key] = true
			if err := walk(dec, data, join(path, key)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errStop
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walk(dec, data, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errStop
		}
	}
	return nil
}

// join extends a path by an object key; keys that are not plain names
// are quoted, so the path reads unambiguously.
func join(path, key string) string {
	name := key
	if key == "" || strings.ContainsAny(key, ".[]\"' \t\r\n") || len(key) > maxShown {
		name = quote(key)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// quote is %q of s cut to maxShown bytes on a rune boundary.
func quote(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
