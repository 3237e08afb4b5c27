package spool

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// ErrTaken is Claim's answer when the entry is not in new/: another
// claimer renamed it first (or it never existed). It is not a failure:
// exactly one claimer has it.
var ErrTaken = errors.New("spool entry claimed by someone else")

// ErrEmpty is ClaimNext's answer when new/ has nothing to claim.
var ErrEmpty = errors.New("spool is empty")

// maxOwnerLen bounds an owner id, so that <id>.<owner> stays a file name.
const maxOwnerLen = 160

// Claimed is an entry a claimer holds: it is in claimed/ under Name until
// Done deletes it or Release puts it back.
type Claimed struct {
	Entry Entry
	// Name is the entry's file name in claimed/.
	Name string
	// Owner is the claimer's owner id.
	Owner string
}

// claimedName is an entry's name in claimed/: the id, a dot (ids have
// none) and the owner escaped so that its slashes cannot make a path.
func claimedName(id, owner string) (string, error) {
	if owner == "" || len(owner) > maxOwnerLen {
		return "", fmt.Errorf("spool: owner id of %d bytes: want 1 to %d", len(owner), maxOwnerLen)
	}
	return id + "." + escapeOwner(owner), nil
}

// escapeOwner is url.PathEscape(owner), byte for byte (a test holds it
// to it): package net/url would bring net/netip's start-up into every
// notifier-drop for these few lines.
func escapeOwner(owner string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(owner) + 16)
	for i := 0; i < len(owner); i++ {
		c := owner[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~:@&=+$", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// unhex is the value of one hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeOwner is url.PathUnescape(esc) (a test holds it to it): ok is
// false for a malformed escape.
func unescapeOwner(esc string) (owner string, ok bool) {
	if !strings.Contains(esc, "%") {
		return esc, true
	}
	b := make([]byte, 0, len(esc))
	for i := 0; i < len(esc); i++ {
		if esc[i] != '%' {
			b = append(b, esc[i])
			continue
		}
		if i+2 >= len(esc) {
			return "", false
		}
		hi, ok1 := unhex(esc[i+1])
		lo, ok2 := unhex(esc[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), true
}

// claimName checks id and owner and makes the entry's name in claimed/.
func claimName(id, owner string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("spool: %.80q is not a spool id", id)
	}
	return claimedName(id, owner)
}

// parseClaimed is the id and owner a name in claimed/ holds.
func parseClaimed(name string) (id, owner string, ok bool) {
	id, esc, ok := strings.Cut(name, ".")
	if !ok || !ValidID(id) {
		return "", "", false
	}
	owner, ok = unescapeOwner(esc)
	if !ok || owner == "" {
		return "", "", false
	}
	return id, owner, true
}

// Claim claims entry id for owner by renaming new/<id> to
// claimed/<id>.<owner>: of many concurrent claimers exactly one
// succeeds; the others get ErrTaken. The claimed entry is read and
// decoded; one that cannot be used (a link, not a plain file, larger
// than MaxEntrySize, undecodable) is moved to bad/ with its reason and
// the error wraps ErrBadEntry.
func (s *Spool) Claim(id, owner string) (*Claimed, error) {
	name, err := s.rename(id, owner)
	if err != nil {
		return nil, err
	}
	return s.load(id, name, owner)
}

// rename is Claim without the read: the entry is owner's, in claimed/
// under the returned name, and not yet looked at (the wake-up answers
// "claimed" before it reads the entry, then loads it).
func (s *Spool) rename(id, owner string) (string, error) {
	name, err := claimName(id, owner)
	if err != nil {
		return "", err
	}
	if err := s.new.MoveTo(id, s.claimed, name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", ErrTaken
		}
		return "", fmt.Errorf("spool: claiming: %w", err)
	}
	return name, nil
}

// load reads and decodes claimed/name, moving it to bad/ if unusable.
func (s *Spool) load(id, name, owner string) (*Claimed, error) {
	c, err := s.read(id, name, owner)
	if err != nil {
		return nil, s.toBad(s.claimed, name, err)
	}
	return c, nil
}

// read reads and decodes claimed/name, leaving it where it is.
func (s *Spool) read(id, name, owner string) (*Claimed, error) {
	data, err := s.claimed.Read(name)
	var e Entry
	if err == nil {
		e, err = DecodeEntry(data)
	}
	if err == nil && e.ID != id {
		err = fmt.Errorf("entry: id %s in a file named %s", e.ID, id)
	}
	if err != nil {
		return nil, err
	}
	return &Claimed{Entry: e, Name: name, Owner: owner}, nil
}

// toBad moves name out of d into bad/, with a one-line reason beside it,
// and returns the error to report. Nothing is deleted: an operator may
// want to see what a drop wrote.
func (s *Spool) toBad(d *dir, name string, reason error) error {
	b := Random4()
	// A suffix of its own: names in bad/ never replace one another.
	base := name + "-" + hex.EncodeToString(b[:])
	if err := d.MoveTo(name, s.bad, base); err != nil {
		return fmt.Errorf("spool: %w: %v; and moving it to bad/ failed: %w", ErrBadEntry, reason, err)
	}
	line := strings.ReplaceAll(reason.Error(), "\n", " ") + "\n"
	if err := s.bad.Create(base+".reason", []byte(line), entryPerm, true); err != nil {
		return fmt.Errorf("spool: %w %s: %v (moved to bad/; its reason not written: %w)", ErrBadEntry, name, reason, err)
	}
	s.bad.Sync()
	return fmt.Errorf("spool: %w %s: %v (moved to bad/)", ErrBadEntry, name, reason)
}

// List is the ids in new/, oldest first. Names that are not spool ids
// are left out (ClaimNext moves them to bad/).
func (s *Spool) List() ([]string, error) {
	names, err := s.new.Names()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	ids := slices.DeleteFunc(names, func(n string) bool { return !ValidID(n) })
	slices.Sort(ids)
	return ids, nil
}

// ClaimNext claims the oldest entry of new/ it can for owner: entries
// others claim first are skipped, unusable ones go to bad/ (and so do
// names in new/ that are not spool ids). ErrEmpty when none is left.
func (s *Spool) ClaimNext(owner string) (*Claimed, error) {
	names, err := s.new.Names()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	slices.Sort(names)
	for _, n := range names {
		if !ValidID(n) {
			s.toBad(s.new, n, fmt.Errorf("%.80q in new/ is not a spool entry name", n))
			continue
		}
		c, err := s.Claim(n, owner)
		if errors.Is(err, ErrTaken) || errors.Is(err, ErrBadEntry) {
			continue
		}
		return c, err
	}
	return nil, ErrEmpty
}

// Takeover claims for owner every entry in claimed/ whose owner is not
// alive (normally state.OwnerAlive: a claimer on this host killed
// before it was done), by renaming it to owner's name: of concurrent
// takers exactly one gets each. Entries of live owners, and owner's own,
// are left. Unusable entries go to bad/.
func (s *Spool) Takeover(alive func(owner string) bool, owner string) ([]*Claimed, error) {
	names, err := s.claimed.Names()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	slices.Sort(names)
	var got []*Claimed
	for _, n := range names {
		id, old, ok := parseClaimed(n)
		if !ok {
			s.toBad(s.claimed, n, fmt.Errorf("%.80q in claimed/ is not a claimed entry name", n))
			continue
		}
		if old == owner || alive(old) {
			continue
		}
		name, err := claimedName(id, owner)
		if err != nil {
			return got, err
		}
		if err := s.claimed.Rename(n, name); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // another taker was first
			}
			return got, fmt.Errorf("spool: taking over: %w", err)
		}
		c, err := s.load(id, name, owner)
		if err != nil {
			continue
		}
		got = append(got, c)
	}
	return got, nil
}

// Done deletes a claimed entry once its decision is durable (committed,
// or kept in the pending directory when the state failed).
func (s *Spool) Done(c *Claimed) error {
	// Not fsync'd: an entry a power cut brings back is claimed again, and
	// its decision's record (RunEntry) makes that claim decide nothing
	// (one decided failing open has no record: it may page twice, which
	// only a power cut at that moment can cause).
	if err := s.claimed.Remove(c.Name); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Release puts a claimed entry back into new/ (a claimer that will not
// decide it after all, such as an engine stopping), durably.
func (s *Spool) Release(c *Claimed) error {
	return s.release(c.Name, c.Entry.ID)
}

// release moves claimed/name back to new/id, durably.
func (s *Spool) release(name, id string) error {
	if err := s.claimed.MoveTo(name, s.new, id); err != nil {
		return fmt.Errorf("spool: releasing: %w", err)
	}
	if err := s.new.Sync(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Stats is what `notifier status` shows of the spool.
type Stats struct {
	// New and Claimed count the entries queued and being worked on.
	New, Claimed int
	// Bad counts the files in bad/ (entries and their reasons).
	Bad int
	// Oldest is the receipt time of the oldest entry in new/ or
	// claimed/ (zero when both are empty).
	Oldest time.Time
}

// Stats counts the spool's entries; the receipt times come from the ids,
// so no entry is read.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	ids, err := s.List()
	if err != nil {
		return st, err
	}
	st.New = len(ids)
	claimed, err := s.claimed.Names()
	if err != nil {
		return st, fmt.Errorf("spool: %w", err)
	}
	for _, n := range claimed {
		if id, _, ok := parseClaimed(n); ok {
			st.Claimed++
			ids = append(ids, id)
		}
	}
	bad, err := s.bad.Names()
	if err != nil {
		return st, fmt.Errorf("spool: %w", err)
	}
	st.Bad = len(bad)
	if len(ids) > 0 {
		st.Oldest, _ = idTime(slices.Min(ids))
	}
	return st, nil
}

// Peek reads entry id in new/ without claiming it: a claimer that takes
// only some entries (its policy's) looks before it claims, so that it
// never holds, even for a moment, an entry a drop is about to claim.
// ErrTaken when it is no longer in new/; an entry that cannot be read
// is left for Claim (which moves it to bad/).
func (s *Spool) Peek(id string) (Entry, error) {
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("spool: %.80q is not a spool id", id)
	}
	data, err := s.new.Read(id)
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, ErrTaken
	}
	if err != nil {
		return Entry{}, fmt.Errorf("spool: %w", err)
	}
	e, err := DecodeEntry(data)
	if err != nil {
		return Entry{}, fmt.Errorf("spool: %w %s: %v", ErrBadEntry, id, err)
	}
	return e, nil
}

// Bad moves a claimed entry its claimer cannot use (its input no longer
// decodes) to bad/ with reason; the returned error says so.
func (s *Spool) Bad(c *Claimed, reason error) error {
	return s.toBad(s.claimed, c.Name, reason)
}

// Adopt takes over entry id that owner already holds in claimed/: the
// claim a process made before it exec'd another program, which keeps its
// process id and so the owner's liveness (the caller checks that owner is
// itself). ErrTaken when there is no such claim.
func (s *Spool) Adopt(id, owner string) (*Claimed, error) {
	name, err := claimName(id, owner)
	if err != nil {
		return nil, err
	}
	if _, err := s.claimed.Read(name); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrTaken
	}
	return s.load(id, name, owner)
}
