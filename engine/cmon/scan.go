package cmon

import "sync"

// scanner tells, byte by byte across reads, when the input so far holds
// one complete JSON object or array: nesting depth outside strings drops
// back to zero. It does not validate; Decode does, on everything read.
// Inputs that start with anything else (a bare number, a string, garbage)
// never complete early: they are not alarms, and are read to the end or
// the deadline as before.
type scanner struct {
	started, other, done bool
	inString, escaped    bool
	depth                int
}

// feed scans b and reports whether a complete value has been seen.
func (s *scanner) feed(b []byte) bool {
	for _, c := range b {
		if s.done || s.other {
			return s.done
		}
		if !s.started {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '{', '[':
				s.started, s.depth = true, 1
			default:
				s.other = true
			}
			continue
		}
		switch {
		case s.escaped:
			s.escaped = false
		case s.inString:
			switch c {
			case '\\':
				s.escaped = true
			case '"':
				s.inString = false
			}
		case c == '"':
			s.inString = true
		case c == '{' || c == '[':
			s.depth++
		case c == '}' || c == ']':
			s.depth--
			s.done = s.depth == 0
		}
	}
	return s.done
}

// chunks is what the reader goroutine has read, readable by ReadInput
// when it gives up waiting for the rest.
type chunks struct {
	mu   sync.Mutex
	data []byte
}

func (c *chunks) add(b []byte) {
	c.mu.Lock()
	c.data = append(c.data, b...)
	c.mu.Unlock()
}

func (c *chunks) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data)
}

// bytes returns a copy: the reader goroutine may still append.
func (c *chunks) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data == nil {
		return nil
	}
	return append([]byte(nil), c.data...)
}
