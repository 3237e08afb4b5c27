package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badReasons is the reason lines in bad/, by the name of the file moved
// there.
func badReasons(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names(t, filepath.Join(dir, BadDir)) {
		base, ok := strings.CutSuffix(n, ".reason")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, BadDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(data), "\n") != 1 || !strings.HasSuffix(string(data), "\n") {
			t.Errorf("%s: reason is not one line: %q", n, data)
		}
		if _, err := os.Lstat(filepath.Join(dir, BadDir, base)); err != nil {
			t.Errorf("reason %s without its entry: %v", n, err)
		}
		out[base[:len(base)-9]] = string(data) // less the random suffix
	}
	return out
}

// Entries that cannot be used go to bad/, each with a one-line reason,
// and are never deleted or read through a link; claiming goes on with
// the good ones.
func TestBadEntriesGoToBad(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	newDir := filepath.Join(dir, NewDir)
	write := func(name string, data []byte) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(newDir, name), data, 0o640); err != nil {
			t.Fatal(err)
		}
		return name
	}
	at := time.Unix(1, 0) // older than the good entry, so claimed first
	garbage := write(NewID(at), []byte("not json"))
	huge := write(NewID(at), []byte(strings.Repeat(" ", MaxEntrySize+1)))

	// A valid entry elsewhere, reachable only through a link (it could
	// be a file the claimer may read and the dropper may not).
	other := openSpool(t, t.TempDir())
	target := put(t, other, 7)
	targetPath := filepath.Join(other.Path, NewDir, target.ID)
	linked := NewID(at)
	if err := os.Symlink(targetPath, filepath.Join(newDir, linked)); err != nil {
		t.Fatal(err)
	}
	hard := NewID(at)
	if err := os.Link(targetPath, filepath.Join(newDir, hard)); err != nil {
		t.Fatal(err)
	}
	// A good entry's content under another id.
	data, err := os.ReadFile(targetPath)
	if err != nil {
		t.Fatal(err)
	}
	renamed := write(NewID(at), data)
	notID := write("junk.txt", []byte("x"))

	good := put(t, s, 1)
	c, err := s.ClaimNext("host/1/x")
	if err != nil {
		t.Fatal(err)
	}
	if c.Entry.ID != good.ID {
		t.Errorf("claimed %s, want the good entry %s", c.Entry.ID, good.ID)
	}
	if _, err := s.ClaimNext("host/1/x"); !errors.Is(err, ErrEmpty) {
		t.Errorf("second ClaimNext: %v, want ErrEmpty", err)
	}
	reasons := badReasons(t, dir)
	for _, n := range []string{garbage, huge, linked, hard, renamed} {
		r, ok := reasons[n+".host%2F1%2Fx"]
		if !ok {
			t.Errorf("%s: not in bad/ (bad/: %q)", n, names(t, filepath.Join(dir, BadDir)))
			continue
		}
		t.Logf("%s: %s", n, strings.TrimSpace(r))
	}
	if _, ok := reasons[notID]; !ok {
		t.Errorf("%s: not in bad/", notID)
	}
	// The link's target is untouched.
	if _, err := os.Stat(targetPath); err != nil {
		t.Errorf("link target: %v", err)
	}
	if ids, _ := other.List(); len(ids) != 1 {
		t.Errorf("the other spool lost its entry: %q", ids)
	}
	if st, err := s.Stats(); err != nil || st.Bad != 12 || st.New != 0 || st.Claimed != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// Claim of one bad entry says so: ErrBadEntry.
func TestClaimBadEntry(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	id := NewID(time.Now())
	if err := os.WriteFile(filepath.Join(dir, NewDir, id), []byte("{}"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(id, "host/1/x"); !errors.Is(err, ErrBadEntry) {
		t.Errorf("claim: %v, want ErrBadEntry", err)
	}
	if _, ok := badReasons(t, dir)[id+".host%2F1%2Fx"]; !ok {
		t.Error("not in bad/")
	}
}

// Takeover moves what it cannot use out of claimed/ too: a name that is
// not <id>.<owner>, and a dead owner's entry that does not decode.
func TestTakeoverBadEntries(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	dead := deadOwner(t)
	id := NewID(time.Now())
	name, err := claimedName(id, dead)
	if err != nil {
		t.Fatal(err)
	}
	for n, data := range map[string]string{name: "garbage", "junk": "x", id + ".%zz": "x"} {
		if err := os.WriteFile(filepath.Join(dir, ClaimedDir, n), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Takeover(func(string) bool { return false }, "host/1/me")
	if err != nil || len(got) != 0 {
		t.Fatalf("Takeover: %d entries, %v", len(got), err)
	}
	if left := names(t, filepath.Join(dir, ClaimedDir)); len(left) != 0 {
		t.Errorf("claimed/ still holds %q", left)
	}
	reasons := badReasons(t, dir)
	for _, n := range []string{id + ".host%2F1%2Fme", "junk", id + ".%zz"} {
		if _, ok := reasons[n]; !ok {
			t.Errorf("%s not in bad/ (%q)", n, names(t, filepath.Join(dir, BadDir)))
		}
	}
}
