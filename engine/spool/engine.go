package spool

import (
	"errors"
	"fmt"
	"io/fs"
)

// Peek reads entry id from new/ without claiming it: the engine's scan
// looks at whose an entry is before it claims it, so that an entry it
// does not serve is never taken from under the drop that wrote it.
// fs.ErrNotExist (wrapped) when it is gone; an entry that does not
// decode is left in new/ (its claimer moves it to bad/).
func (s *Spool) Peek(id string) (Entry, error) {
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("spool: %.80q is not a spool id", id)
	}
	data, err := s.new.Read(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, fmt.Errorf("spool: %w", fs.ErrNotExist)
		}
		return Entry{}, fmt.Errorf("spool: %w", err)
	}
	e, err := DecodeEntry(data)
	if err == nil && e.ID != id {
		err = fmt.Errorf("entry: id %s in a file named %s", e.ID, id)
	}
	return e, err
}

// Reject moves a claimed entry that cannot be decided (its event does
// not decode) to bad/ with reason beside it. The error it returns says
// so, and wraps ErrBadEntry.
func (s *Spool) Reject(c *Claimed, reason error) error {
	return s.toBad(s.claimed, c.Name, reason)
}
