package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"notifier/engine/event"
	"notifier/internal/jsonkeys"
)

// maxNesting is encoding/json's own bound on nesting: deeper input does
// not decode, so the key scan stops there too.
const maxNesting = 10000

// linearKeys is how many keys an object holds before its duplicates are
// looked up in a map rather than by comparing with each key before.
const linearKeys = 16

// errSyntax stops the key scan at input that is not JSON: the decoder
// says what is wrong, with its own position.
var errSyntax = errors.New("malformed JSON")

// checkEntryKeys is DecodeEntry's look at an entry's keys, in one pass
// over the bytes: a JSON object whose keys are Entry's names exactly as
// written (encoding/json matches names ignoring case), the same for the
// objects of its "event" and "input" keys (event.Event's and Input's
// names), and no key twice in any object at any depth (encoding/json
// keeps the last silently). Keys are compared as they decode (escapes,
// invalid UTF-8), so that no spelling hides a duplicate. It returns
// errSyntax where the input is not JSON (the decoder then refuses it
// with its own message) and does not otherwise validate values.
func checkEntryKeys(data []byte) error {
	s := keyScan{data: data}
	s.ws()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		if s.i < len(s.data) && (s.data[s.i] == '[' || s.data[s.i] == '"' || s.data[s.i] == 'n') {
			return errors.New("not a JSON object")
		}
		return errSyntax
	}
	return s.object("", entryKeys, 1)
}

type keyScan struct {
	data []byte
	i    int
	keys [][]byte // the open unnamed objects' keys, innermost last
}

func (s *keyScan) ws() { s.i = jsonkeys.SkipSpace(s.data, s.i) }

// str skips the string at s.i (its opening quote) and returns its body
// as written.
func (s *keyScan) str() ([]byte, error) {
	start := s.i + 1
	j := start
	for {
		k := bytes.IndexByte(s.data[j:], '"')
		if k < 0 {
			return nil, errSyntax
		}
		q := j + k
		n := 0
		for p := q - 1; p >= start && s.data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			s.i = q + 1
			return s.data[start:q], nil
		}
		j = q + 1
	}
}

// key reads an object key at s.i as it decodes, and its offset.
func (s *keyScan) key() ([]byte, int, error) {
	at := s.i
	body, err := s.str()
	if err != nil {
		return nil, at, err
	}
	for _, c := range body {
		if c == '\\' || c >= 0x80 || c < 0x20 {
			// Spelled with an escape or beyond ASCII: decoded as
			// encoding/json decodes it (U+FFFD for invalid UTF-8).
			var k string
			if err := json.Unmarshal(s.data[at:s.i], &k); err != nil {
				return nil, at, errSyntax
			}
			return []byte(k), at, nil
		}
	}
	return body, at, nil
}

// nested says whether the value at s.i is an object or an array: only
// then is its path made, for messages.
func (s *keyScan) nested() bool {
	return s.i < len(s.data) && (s.data[s.i] == '{' || s.data[s.i] == '[')
}

// value skips one value at nesting depth (s.i at its first byte); an
// object or array in it is walked for its keys. path names it, for
// messages (only an object or array needs one).
func (s *keyScan) value(path string, depth int) error {
	if s.i >= len(s.data) {
		return errSyntax
	}
	switch s.data[s.i] {
	case '{':
		return s.object(path, nil, depth+1)
	case '[':
		return s.array(path, depth+1)
	case '"':
		_, err := s.str()
		return err
	default: // a number, true, false or null: the decoder checks them
		start := s.i
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				if s.i == start {
					return errSyntax
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}

func (s *keyScan) array(path string, depth int) error {
	if depth > maxNesting {
		return errSyntax
	}
	s.i++
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.ws()
		var elem string
		if s.nested() {
			elem = path + "[" + strconv.Itoa(n) + "]"
		}
		if err := s.value(elem, depth); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// next steps over what follows a member of an array or object: a comma
// (more follow: false) or its closer (done: true); anything else is not
// JSON.
func (s *keyScan) next(closer byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.data) {
		return false, errSyntax
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return false, nil
	case closer:
		s.i++
		return true, nil
	}
	return false, errSyntax
}

// object walks the object at s.i (path names it in messages: "" for the
// entry itself); with names, a key not in it is refused.
func (s *keyScan) object(path string, names *nameSet, depth int) error {
	if depth > maxNesting {
		return errSyntax
	}
	s.i++
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var (
		seen uint64          // names' indexes seen (a named object)
		big  map[string]bool // the keys seen, once there are many (an unnamed one)
	)
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return errSyntax
		}
		k, at, err := s.key()
		if err != nil {
			return err
		}
		dup := false
		switch {
		case names != nil:
			n, ok := names.index[string(k)]
			if !ok {
				if path == "" {
					return fmt.Errorf("unknown key %.80q", k)
				}
				return fmt.Errorf("%s: unknown key %.80q", path, k)
			}
			dup = seen&(1<<n) != 0
			seen |= 1 << n
		case big != nil:
			dup = big[string(k)]
			big[string(k)] = true
		default:
			for _, prev := range s.keys[base:] {
				if bytes.Equal(prev, k) {
					dup = true
					break
				}
			}
			s.keys = append(s.keys, k)
			if len(s.keys)-base > linearKeys {
				big = make(map[string]bool, 2*linearKeys)
				for _, prev := range s.keys[base:] {
					big[string(prev)] = true
				}
			}
		}
		if dup {
			in := ""
			if path != "" {
				in = " in " + path
			}
			return fmt.Errorf("duplicate key %.80q%s at byte offset %d", k, in, at)
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return errSyntax
		}
		s.i++
		s.ws()
		var child string
		switch {
		case !s.nested():
		case path == "":
			child = string(k)
		default:
			child = path + "." + string(k)
		}
		var inner *nameSet
		if path == "" && names == entryKeys {
			switch string(k) {
			case "event":
				inner = eventKeys()
			case "input":
				inner = inputKeys
			}
		}
		if inner != nil && s.i < len(s.data) && s.data[s.i] == '{' {
			err = s.object(child, inner, depth+1)
		} else {
			err = s.value(child, depth)
		}
		if err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// nameSet is the JSON names of a struct, each with an index (at most 64)
// for the duplicate check.
type nameSet struct{ index map[string]uint }

func newNameSet(names ...string) *nameSet {
	if len(names) > 64 {
		panic("spool: more than 64 names in a nameSet")
	}
	ns := &nameSet{index: make(map[string]uint, len(names))}
	for i, n := range names {
		ns.index[n] = uint(i)
	}
	return ns
}

// entryKeys are Entry's JSON names: encoding/json matches names
// ignoring case, so a document with "V" or "ID" is refused instead.
var entryKeys = newNameSet("v", "id", "policy", "event", "occurrence", "received", "source", "input", "state_path")

// inputKeys are Input's JSON names (see entryKeys).
var inputKeys = newNameSet("source", "data", "env", "host")

// eventKeys are event.Event's JSON names, from its own encoding; made
// on first use, so that a drop pays nothing for it at start-up.
var eventKeys = sync.OnceValue(func() *nameSet {
	data, _ := json.Marshal(event.Event{})
	var m map[string]json.RawMessage
	json.Unmarshal(data, &m)
	return newNameSet(slices.Collect(maps.Keys(m))...)
})
