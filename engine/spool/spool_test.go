package spool

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/engine/event"
)

func testEntry(n int) Entry {
	return Entry{
		Policy: "/etc/notifier/policy.yaml",
		Event: event.Event{Source: event.SourceCMON, Kind: event.KindAlarm, Action: event.ActionNew,
			Severity: event.SeverityCritical, Cluster: "c1", ID: "42", Key: "cmon/42",
			Count: n, Time: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), Fields: map[string]string{"alarm_id": "42"}},
		Occurrence: "occ-1",
		Source:     "cmon",
		Input:      Input{Source: InputCMON, Data: []byte(`{"type":"alarm"}`), Host: "node1"},
		StatePath:  "/var/lib/notifier/state.db",
	}
}

// openSpool opens the spool at dir with all its subdirectories made
// (Open alone makes them as they are first used).
func openSpool(t testing.TB, dir string) *Spool {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(TmpDir, NewDir, ClaimedDir, BadDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func names(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func put(t testing.TB, s *Spool, n int) Entry {
	t.Helper()
	e := testEntry(n)
	if err := s.Put(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

// Open makes the layout with the shared directories' modes, whatever
// the umask.
func TestOpenMakesLayout(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "spool")
	openSpool(t, dir)
	for _, sub := range []string{"", TmpDir, NewDir, ClaimedDir, BadDir} {
		st, err := os.Lstat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if want := os.ModeDir | os.ModeSetgid | 0o770; st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", sub, st.Mode(), want)
		}
	}
	// Opening an existing spool again is fine.
	openSpool(t, dir)
}

// Put's durability steps happen in order, none skipped, and the entry
// reaches new/ only at the rename (the link of an unnamed file, or the
// rename of a named one out of tmp/).
func TestPutStepsInOrder(t *testing.T) {
	for _, named := range []bool{false, true} {
		dir := t.TempDir()
		s := openSpool(t, dir)
		s.namedOnly = named
		var steps []string
		s.step = func(step string) {
			inNew := len(names(t, filepath.Join(dir, NewDir))) > 0
			if after := step == "rename" || slices.Contains(steps, "rename"); after != inNew {
				t.Errorf("named %v, at %q: entry in new/ is %v", named, step, inNew)
			}
			steps = append(steps, step)
		}
		e := put(t, s, 1)
		if want := []string{"create", "write", "fsync file", "rename", "fsync new"}; !slices.Equal(steps, want) {
			t.Fatalf("named %v: steps %q, want %q", named, steps, want)
		}
		if got := names(t, filepath.Join(dir, NewDir)); !slices.Equal(got, []string{e.ID}) {
			t.Errorf("named %v: new/ holds %q, want %q", named, got, e.ID)
		}
		if got := names(t, filepath.Join(dir, TmpDir)); len(got) != 0 {
			t.Errorf("named %v: tmp/ holds %q", named, got)
		}
		st, err := os.Stat(filepath.Join(dir, NewDir, e.ID))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&^0o640 != 0 {
			t.Errorf("named %v: entry mode %v, want at most 0640", named, st.Mode())
		}
		data, err := os.ReadFile(filepath.Join(dir, NewDir, e.ID))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != e.ID || got.V != Version || got.Policy != e.Policy || got.Occurrence != "occ-1" ||
			got.Event.Key != "cmon/42" || got.Event.Count != 1 || !got.Received.Equal(e.Received) {
			t.Errorf("named %v: read back %+v, want %+v", named, got, e)
		}
	}
}

// A Put that cannot rename into new/ fails and leaves nothing behind.
func TestPutFailureLeavesNothing(t *testing.T) {
	for _, named := range []bool{false, true} {
		dir := t.TempDir()
		s := openSpool(t, dir)
		s.namedOnly = named
		if err := os.Remove(filepath.Join(dir, NewDir)); err != nil {
			t.Fatal(err)
		}
		e := testEntry(1)
		if err := s.Put(&e); err == nil {
			t.Fatalf("named %v: Put succeeded without new/", named)
		}
		if got := names(t, filepath.Join(dir, TmpDir)); len(got) != 0 {
			t.Errorf("named %v: tmp/ holds %q", named, got)
		}
	}
}

// Put refuses an entry it could not read back.
func TestPutRefusesInvalid(t *testing.T) {
	s := openSpool(t, t.TempDir())
	for _, mod := range []func(*Entry){
		func(e *Entry) { e.Policy = "policy.yaml" },
		func(e *Entry) { e.Policy = "/etc/../etc/policy.yaml" },
		func(e *Entry) { e.Event.Key = "" },
	} {
		e := testEntry(1)
		mod(&e)
		if err := s.Put(&e); err == nil {
			t.Errorf("Put(%+v) succeeded", e)
		}
	}
}

// A subdirectory that is a link is refused when it is opened (Prepare,
// or its first use): the drop would write where the link points.
func TestOpenRefusesLinkedSubdirectory(t *testing.T) {
	for _, sub := range []string{NewDir, ClaimedDir, TmpDir, BadDir} {
		dir := filepath.Join(t.TempDir(), "spool")
		elsewhere := t.TempDir()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Prepare(sub); err == nil || !strings.Contains(err.Error(), "is a link or not a directory: refused") {
			t.Errorf("%s as a link: Prepare: %v", sub, err)
		}
		// Used without Prepare, the same: nothing is written through it
		// (bad/ is written only by a claimer: Stats reads it).
		// (tmp/ is used only where unnamed files cannot be made.)
		s.namedOnly = true
		e := testEntry(1)
		err = s.Put(&e)
		if _, cerr := s.PutClaimed(&e, "host/1/x"); sub != BadDir && err == nil && cerr == nil {
			t.Errorf("%s as a link: Put and PutClaimed both wrote", sub)
		}
		if _, err := s.Stats(); sub != TmpDir && err == nil {
			t.Errorf("%s as a link: Stats listed it", sub)
		}
		if got := names(t, elsewhere); len(got) != 0 {
			t.Errorf("%s as a link: written through it: %q", sub, got)
		}
		s.Close()
	}
	// And so is the spool itself.
	link := filepath.Join(t.TempDir(), "spool")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(link); err == nil {
		s.Close()
		t.Error("spool as a link: opened")
	}
}

// Open makes only the spool directory; a drop's Put makes (and opens)
// only new/, PutClaimed only claimed/ (and tmp/ where unnamed files
// cannot be made).
func TestOpenIsLazy(t *testing.T) {
	for _, c := range []struct {
		named bool
		put   func(*Spool) error
		want  []string
	}{
		{false, func(*Spool) error { return nil }, nil},
		{false, func(s *Spool) error { e := testEntry(1); return s.Put(&e) }, []string{NewDir}},
		{false, func(s *Spool) error { e := testEntry(1); _, err := s.PutClaimed(&e, "host/1/x"); return err }, []string{ClaimedDir}},
		{true, func(s *Spool) error { e := testEntry(1); return s.Put(&e) }, []string{NewDir, TmpDir}},
		{true, func(s *Spool) error { e := testEntry(1); _, err := s.PutClaimed(&e, "host/1/x"); return err }, []string{ClaimedDir, TmpDir}},
	} {
		dir := filepath.Join(t.TempDir(), "spool")
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.namedOnly = c.named
		if err := c.put(s); err != nil {
			t.Fatal(err)
		}
		if got := names(t, dir); !slices.Equal(got, c.want) {
			t.Errorf("spool holds %q, want %q", got, c.want)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestValidID(t *testing.T) {
	id := NewID(time.Now())
	if !ValidID(id) {
		t.Fatalf("NewID made %q, not valid", id)
	}
	if a, b := NewID(time.Unix(0, 5)), NewID(time.Unix(0, 40)); a >= b {
		t.Errorf("ids do not sort by time: %q >= %q", a, b)
	}
	for _, bad := range []string{"", "..", "../" + id, id + "/x", id[:len(id)-1], id + "0", "x" + id[1:],
		strings.Replace(id, "-", ".", 1), strings.ToUpper(id) + "F", id[:21] + "12345678901" + id[len(id)-9:],
		id + "\n", "00000000000000000000--00000000"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if got, ok := idTime(NewID(time.Unix(7, 8))); !ok || !got.Equal(time.Unix(7, 8)) {
		t.Errorf("idTime = %v, %v", got, ok)
	}
}

// Stats counts new/ and claimed/ and finds the oldest receipt.
func TestStats(t *testing.T) {
	s := openSpool(t, t.TempDir())
	st, err := s.Stats()
	if err != nil || st != (Stats{}) {
		t.Fatalf("empty spool: %+v, %v", st, err)
	}
	base := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	var ids []string
	for i, off := range []int{3, 1, 2} {
		e := testEntry(i)
		e.Received = base.Add(time.Duration(off) * time.Second)
		if err := s.Put(&e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	// The oldest is claimed: Oldest still counts it.
	if _, err := s.Claim(ids[1], "me/1/x"); err != nil {
		t.Fatal(err)
	}
	st, err = s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.New != 2 || st.Claimed != 1 || st.Bad != 0 || !st.Oldest.Equal(base.Add(time.Second)) {
		t.Errorf("stats %+v", st)
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	e := testEntry(1)
	e.V, e.ID, e.Received = Version, NewID(time.Now()), time.Now()
	good, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeEntry(good); err != nil {
		t.Fatalf("good entry: %v", err)
	}
	s := string(good)
	for name, bad := range map[string]string{
		"version":       strings.Replace(s, `"v":1`, `"v":2`, 1),
		"case":          strings.Replace(s, `"v":1`, `"V":1`, 1),
		"unknown":       strings.Replace(s, `"v":1`, `"v":1,"x":1`, 1),
		"duplicate":     strings.Replace(s, `"v":1`, `"v":1,"v":1`, 1),
		"event case":    strings.Replace(s, `"source":"cmon","kind"`, `"Source":"cmon","kind"`, 1),
		"event unknown": strings.Replace(s, `"kind":`, `"nope":1,"kind":`, 1),
		"id":            strings.Replace(s, e.ID, "../../etc/passwd", 1),
		"policy":        strings.Replace(s, `"/etc/notifier/policy.yaml"`, `"policy.yaml"`, 1),
		"input unknown": strings.Replace(s, `"host":"node1"`, `"host":"node1","x":1`, 1),
		"input case":    strings.Replace(s, `"host":"node1"`, `"Host":"node1"`, 1),
		"input source":  strings.Replace(s, `"input":{"source":"cmon"`, `"input":{"source":"snmp"`, 1),
		"state path":    strings.Replace(s, `"/var/lib/notifier/state.db"`, `"state.db"`, 1),
		"trailing":      s + "{}",
		"not json":      "\x00",
		"oversized":     strings.Replace(s, `"occ-1"`, `"`+strings.Repeat("a", MaxEntrySize)+`"`, 1),
	} {
		if bad == s && name != "not json" {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, err := DecodeEntry([]byte(bad)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// PutClaimed writes what Put writes, without its fsyncs, straight into
// claimed/ under the owner's name, where Takeover finds the entry of a
// claimer that died before deciding it.
func TestPutClaimed(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	var steps []string
	s.step = func(step string) { steps = append(steps, step) }
	e2 := testEntry(2)
	c, err := s.PutClaimed(&e2, "host/99/dead")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"create", "write", "rename"}; !slices.Equal(steps, want) {
		t.Errorf("PutClaimed steps %q, want %q", steps, want)
	}
	if got := names(t, filepath.Join(dir, ClaimedDir)); !slices.Equal(got, []string{c.Name}) || c.Entry.ID != e2.ID || c.Owner != "host/99/dead" {
		t.Fatalf("claimed/ holds %q; claimed %+v", got, c)
	}
	got, err := s.Takeover(func(string) bool { return false }, "host/1/live")
	if err != nil || len(got) != 1 || got[0].Entry.ID != e2.ID || got[0].Entry.Occurrence != "occ-1" {
		t.Fatalf("Takeover: %+v, %v", got, err)
	}
	if _, err := s.PutClaimed(&e2, ""); err == nil {
		t.Error("PutClaimed with no owner succeeded")
	}
	if got := names(t, filepath.Join(dir, TmpDir)); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
}

// NewID pads the time to 20 digits, then the pid and 8 hex digits.
func TestNewIDLayout(t *testing.T) {
	for _, ns := range []int64{5, 1700000000123456789, math.MaxInt64} {
		id := NewID(time.Unix(0, ns))
		if want := fmt.Sprintf("%020d-%d-", ns, os.Getpid()); !strings.HasPrefix(id, want) || len(id) != len(want)+8 || !ValidID(id) {
			t.Errorf("NewID(%d) = %q, want %q and 8 hex digits", ns, id, want)
		}
	}
	if a, b := NewID(time.Unix(0, 5)), NewID(time.Unix(0, 5)); a == b {
		t.Errorf("two ids alike: %q", a)
	}
}

// A failed fsync of new/ after the rename is ErrNotDurable, not "nothing
// spooled": the entry is in new/, so the caller must neither report
// success nor decide it beside new/; one claimer takes it, once.
func TestPutNotDurable(t *testing.T) {
	s := openSpool(t, t.TempDir())
	s.syncDir = func(*dir) error { return errors.New("EIO") }
	e := testEntry(1)
	err := s.Put(&e)
	if !errors.Is(err, ErrNotDurable) || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("Put: %v, want ErrNotDurable with the cause", err)
	}
	ids, err := s.List()
	if err != nil || len(ids) != 1 || ids[0] != e.ID {
		t.Fatalf("new/ holds %v (%v), want the entry %s", ids, err, e.ID)
	}
	if c, err := s.Claim(e.ID, "h/1/a"); err != nil || c == nil {
		t.Fatalf("claim: %v, %v", c, err)
	}
	if c, err := s.Claim(e.ID, "h/2/b"); c != nil {
		t.Errorf("claimed twice: %v, %v", c, err)
	}
}

// Whatever keeps an unnamed file from being made or linked (here a
// refusal, as a security policy may give), the entry is written as a
// named file all the same; an existing name is an error, never replaced.
func TestPutFallsBackToNamed(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	s.failUnnamed = &os.PathError{Op: "link", Path: "/proc/self/fd/3", Err: syscall.EACCES}
	e := put(t, s, 1)
	if got := names(t, filepath.Join(dir, NewDir)); !slices.Equal(got, []string{e.ID}) {
		t.Errorf("new/ holds %q, want %s", got, e.ID)
	}
	if got := names(t, filepath.Join(dir, TmpDir)); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
	s.failUnnamed = &os.PathError{Op: "link", Path: "new/x", Err: syscall.EEXIST}
	e2 := testEntry(2)
	if err := s.Put(&e2); err == nil {
		t.Error("Put over an existing name succeeded")
	}
	if got := names(t, filepath.Join(dir, NewDir)); !slices.Equal(got, []string{e.ID}) {
		t.Errorf("new/ holds %q, want %s alone", got, e.ID)
	}
}
