package channels

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrSetClosed is what Set.Get returns after Close.
var ErrSetClosed = errors.New("channels: set is closed")

// Set is the channels one run (or flush, or explain) uses: each is built
// on first use, once, shared by every delivery to it, and closed by
// Close. It is the only way the binary builds a channel, so none is left
// open. A build that fails is not remembered: the next Get tries again
// (a secret file being rewritten may be whole by then). Safe for
// concurrent use.
type Set struct {
	build func(name string) (Channel, error)

	mu     sync.Mutex
	built  map[string]*setEntry
	closed bool
}

type setEntry struct {
	mu     sync.Mutex // held while building, so a channel is built once
	ch     Channel
	closed bool
}

// NewSet returns a Set that builds the channel called name (the policy's
// name for it, not its type) with build.
func NewSet(build func(name string) (Channel, error)) *Set {
	return &Set{build: build, built: map[string]*setEntry{}}
}

// Get returns the channel called name, building it on first use.
func (s *Set) Get(name string) (Channel, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSetClosed
	}
	e := s.built[name]
	if e == nil {
		e = &setEntry{}
		s.built[name] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return nil, ErrSetClosed
	case e.ch != nil:
		return e.ch, nil
	}
	ch, err := s.build(name)
	if err != nil {
		return nil, err
	}
	e.ch = ch
	return ch, nil
}

// Close closes every channel built, waiting for one being built, and
// says which failed to close. Get fails afterwards; Close again does
// nothing.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	names := make([]string, 0, len(s.built))
	for name := range s.built {
		names = append(names, name)
	}
	sort.Strings(names) // errors in a stable order
	entries := make([]*setEntry, len(names))
	for i, name := range names {
		entries[i] = s.built[name]
	}
	s.mu.Unlock()

	var errs []error
	for i, e := range entries {
		name := names[i]
		e.mu.Lock()
		if e.ch != nil {
			if err := e.ch.Close(); err != nil {
				errs = append(errs, fmt.Errorf("channel %q: %w", name, err))
			}
			e.ch = nil
		}
		e.closed = true
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}
