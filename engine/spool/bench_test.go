package spool

import (
	"errors"
	"testing"
)

// BenchmarkPut is one drop's spool write: tmp/ file, write, fsync,
// rename into new/, fsync of new/ (on the file system of t.TempDir()).
func BenchmarkPut(b *testing.B) {
	s := openSpool(b, b.TempDir())
	for i := 0; b.Loop(); i++ {
		e := testEntry(i)
		if err := s.Put(&e); err != nil {
			b.Fatal(err)
		}
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
