package lastgood

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// A kept policy decides who gets paged when the files break; these tests
// play the member of the shared group who can write the directory, and a
// damaged disk.

const (
	pageAll = "channels:\n  a: {type: syslog}\nrules:\n  - {name: page, when: 'true', notify: [a]}\n"
	dropAll = "rules:\n  - {name: drop-all, when: 'true', drop: true}\n"
	broken  = "rules:\n  - {name: x, when: 'nope ==', drop: true}\n"
)

func writePolicy(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// load loads path as a run does and fails the test unless it loads.
func load(t *testing.T, path, dir string) *engine.Policy {
	t.Helper()
	p, ps, err := Load(path, dir, policy.Options{})
	if p == nil || err != nil {
		t.Fatal(ps, err)
	}
	return p
}

// keptOf loads path and returns the file its copy is kept in.
func keptOf(t *testing.T, path, dir string) string {
	t.Helper()
	load(t, path, dir)
	f := filepath.Join(dir, strconv.Itoa(os.Geteuid()), fileName(path))
	if _, err := os.Lstat(f); err != nil {
		t.Fatalf("%s: nothing kept: %v", path, err)
	}
	return f
}

// TestLastGood: the last files that loaded are used, marked, while the
// files do not load; the run is told both why and what it uses.
func TestLastGood(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, pageAll)
	cache := filepath.Join(dir, "cache")
	load(t, path, cache)
	writePolicy(t, path, broken)
	_, ps, _ := Load(path, cache, policy.Options{})
	p, notes := Fallback(path, cache, ps, policy.Options{})
	if p == nil || !p.LastGood || p.Rules[0].Name != "page" {
		t.Fatalf("last good: %+v %v", p, notes)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "p.yaml:2:28: when:") || !strings.Contains(notes[1], "using the last policy that loaded from "+path) {
		t.Errorf("notes %q, want the load error and what is used instead", notes)
	}
	// Kept off, or never kept: nothing, and nothing to say.
	for _, d := range []string{"", filepath.Join(dir, "other")} {
		if p, notes := Fallback(path, d, ps, policy.Options{}); p != nil || len(notes) != 0 {
			t.Errorf("dir %q: %v %q, want none", d, p, notes)
		}
	}
}

// TestKeptOnlyWhenChanged: a run with unchanged files reads the copy and
// leaves it; a change replaces it.
func TestKeptOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	path, cache := filepath.Join(dir, "p.yaml"), filepath.Join(dir, "cache")
	writePolicy(t, path, pageAll)
	kept := keptOf(t, path, cache)
	before, _ := os.Stat(kept)
	load(t, path, cache)
	if after, _ := os.Stat(kept); !os.SameFile(before, after) {
		t.Error("an unchanged policy was kept again")
	}
	writePolicy(t, path, dropAll)
	load(t, path, cache)
	if after, _ := os.Stat(kept); os.SameFile(before, after) {
		t.Error("a changed policy was not kept")
	}
	writePolicy(t, path, broken)
	if p, _ := Fallback(path, cache, errors.New("broken"), policy.Options{}); p == nil || p.Rules[0].Name != "drop-all" {
		t.Fatalf("last good is not the last that loaded: %+v", p)
	}
}

// TestLastGoodOnlyFromItsOwnPolicy: root's copy of a drop-all test
// policy, renamed over the copy of the real policy, must not become the
// real policy when that one breaks.
func TestLastGoodOnlyFromItsOwnPolicy(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	real, test := filepath.Join(dir, "real.yaml"), filepath.Join(dir, "test.yaml")
	writePolicy(t, real, pageAll)
	writePolicy(t, test, dropAll)
	realKept := keptOf(t, real, cache)
	testKept := keptOf(t, test, cache)

	writePolicy(t, real, broken)
	if lg, _, err := lastGood(real, cache, policy.Options{}); lg == nil || err != nil || lg.Rules[0].Name != "page" {
		t.Fatalf("own last good: %v, %v", lg, err)
	}
	if err := os.Rename(testKept, realKept); err != nil {
		t.Fatal(err)
	}
	lg, notes := Fallback(real, cache, errors.New("broken"), policy.Options{})
	if lg != nil {
		t.Fatalf("the last good policy of %s is %s's (rule %q)", real, test, lg.Rules[0].Name)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "last good policy for "+real+" not used") || !strings.Contains(notes[0], "another policy, "+test) {
		t.Errorf("refusal not said, or not why: %q", notes)
	}
	// The next run of the real policy that loads keeps its own again.
	writePolicy(t, real, pageAll)
	load(t, real, cache)
	writePolicy(t, real, broken)
	if lg, _, err := lastGood(real, cache, policy.Options{}); lg == nil || err != nil || lg.Rules[0].Name != "page" {
		t.Fatalf("own last good, kept again: %v, %v", lg, err)
	}
}

// TestKeptChecksum: one byte changed in a kept file is refused, said,
// and replaced by the next run whose policy loads.
func TestKeptChecksum(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, "channels:\n  a: {type: syslog}\nrules:\n"+
		"  - {name: crit, when: 'severity == \"critical\"', notify: [a]}\n  - {name: rest, when: 'true', drop: true}\n")
	kept := keptOf(t, path, cache)
	flip := func() {
		t.Helper()
		data, err := os.ReadFile(kept)
		i := bytes.LastIndex(data, []byte("critical"))
		if err != nil || i < 0 {
			t.Fatal(err, i)
		}
		data[i+6] = '4' // "critic4l"
		if err := os.WriteFile(kept, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip()
	p := load(t, path, cache) // replaces the damaged copy
	ev := event.Event{Source: "cmon", Kind: "alarm", Action: "new", Severity: "critical", Fields: map[string]string{}}
	writePolicy(t, path, broken)
	lg, _, err := lastGood(path, cache, policy.Options{})
	if lg == nil || err != nil {
		t.Fatalf("the damaged copy was not replaced: %v", err)
	}
	if d := lg.Evaluate(&ev); d.Dropped || len(d.Deliveries) != 1 || len(p.Evaluate(&ev).Deliveries) != 1 {
		t.Fatalf("kept copy decides differently: dropped %v, deliveries %v", d.Dropped, d.Deliveries)
	}
	flip()
	lg, _, err = lastGood(path, cache, policy.Options{})
	if lg != nil || err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged last good: %v, %v", lg, err)
	}
}

// TestSealRefusesEveryByteChange: whatever byte of a kept file changes,
// it is refused before a byte of it is decoded.
func TestSealRefusesEveryByteChange(t *testing.T) {
	srcs := []policy.Source{{Name: "p.yaml", Data: []byte(pageAll)}}
	id := identity{Root: "/etc/notifier/p.yaml", Files: []fileID{{Name: "p.yaml", Path: "/etc/notifier/p.yaml", Sum: sha256.Sum256(srcs[0].Data)}}}
	data := seal(id, srcs)
	if got, back, err := unseal(data); err != nil || !sameFiles(got, id) || len(back) != 1 || string(back[0].Data) != pageAll {
		t.Fatalf("intact: %v %v %v", got, back, err)
	}
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			data[i] ^= bit
			if _, _, err := unseal(data); err == nil {
				t.Fatalf("byte %d of %d xor %#x accepted", i, len(data), bit)
			}
			data[i] ^= bit
		}
	}
}

// TestLastGoodThatNoLongerLoads: a copy this binary cannot load (a check
// newer than it) is refused, and said.
func TestLastGoodThatNoLongerLoads(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, pageAll)
	keptOf(t, path, cache)
	writePolicy(t, path, broken)
	opts := policy.Options{CheckChannel: func(spec *policy.ChannelSpec) policy.Problems {
		return policy.Problems{{File: spec.File, Line: 1, Col: 1, Severity: "error", Check: "channel", Message: "refused"}}
	}}
	lg, _, err := lastGood(path, cache, opts)
	if lg != nil || err == nil || !strings.Contains(err.Error(), "does not load either") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("last good that does not load: %v, %v", lg, err)
	}
}

// TestKeptNotThroughLinks: a copy is read only from this user's own
// directory, never through a symbolic link (whose target's owner is not
// who put the link there), and a FIFO in its place cannot hang a run.
func TestKeptNotThroughLinks(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	elsewhere := filepath.Join(dir, "elsewhere.lastgood")
	for _, c := range []struct {
		name   string
		plant  func(kept string) error
		why    string
		target string // what the link points to: never written through it
	}{
		{"symlink", func(kept string) error {
			if err := os.Rename(kept, elsewhere); err != nil {
				return err
			}
			return os.Symlink(elsewhere, kept)
		}, "symbolic link", elsewhere},
		{"fifo", func(kept string) error {
			os.Remove(kept)
			return syscall.Mkfifo(kept, 0o600)
		}, "not a regular file", ""},
		{"directory link", func(kept string) error {
			user := filepath.Dir(kept)
			moved := filepath.Join(dir, "moved")
			if err := os.Rename(user, moved); err != nil {
				return err
			}
			return os.Symlink(moved, user)
		}, "symbolic link is not followed", filepath.Join(dir, "moved")},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(cache)
			os.RemoveAll(filepath.Join(dir, "moved"))
			writePolicy(t, path, pageAll)
			kept := keptOf(t, path, cache)
			if err := c.plant(kept); err != nil {
				t.Fatal(err)
			}
			var before map[string]string
			if c.target != "" {
				before = tree(t, c.target)
			}
			writePolicy(t, path, dropAll) // a change: the run keeps it
			load(t, path, cache)          // must not hang, nor write through the link
			if c.target != "" {
				sameTree(t, "kept through a "+c.name, c.target, before)
			}
			// Planted again over what that run wrote (if it could).
			st, err := os.Lstat(kept)
			if ud, _ := os.Lstat(filepath.Dir(kept)); err == nil && st.Mode().IsRegular() && ud.IsDir() {
				if err := c.plant(kept); err != nil {
					t.Fatal(err)
				}
			}
			writePolicy(t, path, broken)
			lg, _, err := lastGood(path, cache, policy.Options{})
			if lg != nil || err == nil || !strings.Contains(err.Error(), c.why) {
				t.Errorf("last good through a %s: %v, %v; want refused: %s", c.name, lg, err, c.why)
			}
		})
	}
}

// TestDirModes: the shared directory is sticky (nobody renames another
// user's entries), each user's own is 0700 and each kept file 0600 (a
// channel's options may hold a secret); a directory others can write to,
// or another user's, is neither read nor written.
func TestDirModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, pageAll)
	kept := keptOf(t, path, cache)
	user := filepath.Join(cache, strconv.Itoa(os.Geteuid()))
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{cache, os.ModeDir | os.ModeSticky | os.ModeSetgid | 0o770},
		{user, os.ModeDir | 0o700},
		{kept, 0o600},
	} {
		if st, err := os.Lstat(c.path); err != nil || st.Mode() != c.want {
			t.Errorf("%s: %v, want mode %v", c.path, err, c.want)
		}
	}
	refused := func(why string) {
		t.Helper()
		if lg, _, err := lastGood(path, cache, policy.Options{}); lg != nil || err == nil {
			t.Errorf("a kept policy was used from %s: %v", why, err)
		}
	}
	used := func() {
		t.Helper()
		if lg, _, err := lastGood(path, cache, policy.Options{}); lg == nil || err != nil {
			t.Errorf("own kept policy not used: %v", err)
		}
	}
	// A run whose policy changed keeps it, but not in a place it does not
	// trust: nothing there changes, and the copy there is still refused.
	changes := 0
	unwritten := func(why, root string) {
		t.Helper()
		before := tree(t, root)
		changes++
		writePolicy(t, path, fmt.Sprintf("rules:\n  - {name: change-%d, when: 'true', drop: true}\n", changes))
		load(t, path, cache)
		sameTree(t, why, root, before)
		refused(why + ", after a run")
	}
	os.Chmod(user, 0o770)
	refused("a group-writable directory")
	unwritten("a group-writable directory", cache)
	os.Chmod(user, 0o700)
	// A shared directory others could rename our directory in is not
	// trusted; one of ours is made sticky by the next run that writes.
	os.Chmod(cache, 0o770|os.ModeSetgid)
	refused("a shared directory without the sticky bit")
	writePolicy(t, path, dropAll) // a change: the next run writes
	load(t, path, cache)
	if st, _ := os.Stat(cache); st.Mode()&os.ModeSticky == 0 {
		t.Fatalf("our own shared directory was not made sticky (%v)", st.Mode())
	}
	used()
	// Nor through a link.
	os.Rename(cache, cache+".real")
	os.Symlink(cache+".real", cache)
	refused("a linked directory")
	unwritten("a linked directory", cache+".real")
	if st, err := os.Lstat(cache); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the shared directory was replaced: %v %v", st, err)
	}
	os.Remove(cache)
	os.Rename(cache+".real", cache)
	used()
	if os.Geteuid() == 0 {
		// Another user's shared directory, or another user's own.
		for _, d := range []string{cache, user} {
			os.Chown(d, 65534, 65534)
			refused(d + ", owned by another user")
			unwritten(d+", owned by another user", cache)
			os.Chown(d, 0, 0)
		}
	}
}
