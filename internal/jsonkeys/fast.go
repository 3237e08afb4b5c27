package jsonkeys

import (
	"bytes"
	"unicode/utf8"
)

// linearKeys is how many keys an object holds before its duplicates are
// looked up in a map rather than by comparing with each key before.
const linearKeys = 16

// fastScan reports whether valid JSON data may hold a duplicate key: it
// compares keys as written, without decoding, and allocates nothing for
// objects up to linearKeys keys. A key with an escape could equal one
// spelled otherwise, so such input answers true and the exact walk
// decides. It relies on data having decoded already: it does not
// validate, and recursion is bounded by the decoder's nesting limit.
func fastScan(data []byte) bool {
	// Invalid UTF-8 decodes to U+FFFD: keys with different bytes can
	// be one key once decoded, like keys spelled with escapes.
	if bytes.IndexByte(data, '\\') >= 0 || !utf8.Valid(data) {
		return true
	}
	s := fast{data: data}
	s.value()
	return s.dup
}

type fast struct {
	data []byte
	i    int
	keys [][]byte // the open objects' keys, innermost last
	dup  bool
}

func (s *fast) ws() { s.i = SkipSpace(s.data, s.i) }

// SkipSpace is the index of the first byte of data at or after i that is
// not JSON whitespace (len(data) if none): for the other key scanners
// (engine/spool's).
func SkipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// str skips a string (no escapes: see fastScan) and returns its body.
func (s *fast) str() []byte {
	start := s.i + 1
	end := bytes.IndexByte(s.data[start:], '"')
	if end < 0 {
		s.i = len(s.data)
		return s.data[start:]
	}
	s.i = start + end + 1
	return s.data[start : start+end]
}

func (s *fast) value() {
	s.ws()
	if s.i >= len(s.data) || s.dup {
		return
	}
	switch s.data[s.i] {
	case '{':
		s.object()
	case '[':
		s.i++
		for !s.dup {
			s.ws()
			if s.i >= len(s.data) || s.data[s.i] == ']' {
				s.i++
				return
			}
			s.value()
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
	default: // a number, true, false or null
		start := s.i
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				if s.i == start {
					// Not a value at all (a '}' inside an array): input
					// that does not decode, which the walk refuses; step
					// over it, or an array's loop would spin here for ever.
					s.i++
				}
				return
			}
			s.i++
		}
	}
}

func (s *fast) object() {
	s.i++
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var big map[string]struct{}
	for !s.dup {
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			s.i++ // '}' (or the end)
			return
		}
		key := s.str()
		switch {
		case big != nil:
			if _, seen := big[string(key)]; seen {
				s.dup = true
				return
			}
			big[string(key)] = struct{}{}
		default:
			for _, k := range s.keys[base:] {
				if bytes.Equal(k, key) {
					s.dup = true
					return
				}
			}
			s.keys = append(s.keys, key)
			if len(s.keys)-base > linearKeys {
				big = make(map[string]struct{}, 2*linearKeys)
				for _, k := range s.keys[base:] {
					big[string(k)] = struct{}{}
				}
			}
		}
		s.ws()
		if s.i < len(s.data) && s.data[s.i] == ':' {
			s.i++
		}
		s.value()
		s.ws()
		if s.i < len(s.data) && s.data[s.i] == ',' {
			s.i++
		}
	}
}
