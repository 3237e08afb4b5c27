package spool

import (
	"errors"
	"testing"
)

// BenchmarkPut is one drop's spool write (on the file system of
// b.TempDir(); $TMPDIR moves it): an unnamed file written, fsync'd and
// linked into new/, or (named) a file of tmp/ renamed into it, then new/
// fsync'd. Each write deletes the entry before last, as the engine does
// once it has decided one (a file system without a journal makes new
// files skip recently deleted inodes).
func BenchmarkPut(b *testing.B) {
	for _, named := range []bool{false, true} {
		b.Run(map[bool]string{false: "unnamed", true: "named"}[named], func(b *testing.B) {
			s := openSpool(b, b.TempDir())
			s.namedOnly = named
			var ids []string
			for i := 0; b.Loop(); i++ {
				e := testEntry(i)
				if err := s.Put(&e); err != nil {
					b.Fatal(err)
				}
				if ids = append(ids, e.ID); len(ids) > 2 {
					s.new.Remove(ids[0])
					ids = ids[1:]
				}
			}
		})
	}
}

// BenchmarkClaim is one claim by rename of an entry of new/ (the entry
// is read and decoded; the claim is not fsync'd, see the package doc).
func BenchmarkClaim(b *testing.B) {
	s := openSpool(b, b.TempDir())
	var ids []string
	for i := range b.N {
		e := testEntry(i)
		if err := s.Put(&e); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	b.ResetTimer()
	for _, id := range ids {
		if _, err := s.Claim(id, "host/1/bench"); err != nil && !errors.Is(err, ErrTaken) {
			b.Fatal(err)
		}
	}
}
