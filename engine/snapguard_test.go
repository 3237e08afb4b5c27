package engine_test

import (
	"bytes"
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

// Snapshots decide who gets paged; these tests play the member of the
// shared group who can write the cache directory, and a damaged disk.

const (
	pageAll = "channels:\n  a: {type: syslog}\nrules:\n  - {name: page, when: 'true', notify: [a]}\n"
	dropAll = "rules:\n  - {name: drop-all, when: 'true', drop: true}\n"
	broken  = "rules:\n  - {name: x, when: 'nope ==', drop: true}\n"
)

// cached loads path through the cache and fails the test on errors.
func cached(t *testing.T, path, cache string) *engine.Policy {
	t.Helper()
	p, ps, err := engine.LoadCached(path, cache, policy.Options{})
	if p == nil || err != nil {
		t.Fatal(ps, err)
	}
	return p
}

// snapshotOf loads path until it has a snapshot and returns its file.
func snapshotOf(t *testing.T, path, cache string) string {
	t.Helper()
	before := map[string]bool{}
	for _, f := range snapshotFiles(cache) {
		before[f] = true
	}
	cached(t, path, cache)
	if !cached(t, path, cache).FromSnapshot {
		t.Fatalf("%s: no snapshot made", path)
	}
	for _, f := range snapshotFiles(cache) {
		if !before[f] {
			return f
		}
	}
	t.Fatalf("%s: no new snapshot among %v", path, snapshotFiles(cache))
	return ""
}

// TestLastGoodOnlyFromItsOwnPolicy: root's snapshot of a drop-all test
// policy, renamed over the last-good name of the real policy, must not
// become the real policy when that one breaks, nor ever serve it.
func TestLastGoodOnlyFromItsOwnPolicy(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	real, test := filepath.Join(dir, "real.yaml"), filepath.Join(dir, "test.yaml")
	os.WriteFile(real, []byte(pageAll), 0o644)
	os.WriteFile(test, []byte(dropAll), 0o644)
	realSnap := snapshotOf(t, real, cache)
	testSnap := snapshotOf(t, test, cache)

	// The real policy's own last good version is used while it is broken.
	os.WriteFile(real, []byte(broken), 0o644)
	lg, _, err := engine.LastGood(real, cache)
	if lg == nil || err != nil || lg.Rules[0].Name != "page" {
		t.Fatalf("own last good: %v, %v", lg, err)
	}
	// Another policy's snapshot under its name is not.
	if err := os.Rename(testSnap, realSnap); err != nil {
		t.Fatal(err)
	}
	lg, _, err = engine.LastGood(real, cache)
	if lg != nil {
		t.Fatalf("the last good policy of %s is %s's (rule %q)", real, test, lg.Rules[0].Name)
	}
	if err == nil || !strings.Contains(err.Error(), "another policy, "+test) {
		t.Errorf("refusal not said, or not why: %v", err)
	}
	// Nor does it serve a normal load of the real policy.
	os.WriteFile(real, []byte(pageAll), 0o644)
	testSnap = snapshotOf(t, test, cache)
	if err := os.Rename(testSnap, realSnap); err != nil {
		t.Fatal(err)
	}
	if p := cached(t, real, cache); p.FromSnapshot || p.Rules[0].Name != "page" {
		t.Fatalf("the real policy loaded as rule %q, from a snapshot: %v", p.Rules[0].Name, p.FromSnapshot)
	}
}

// TestSnapshotChecksum: one byte changed inside a compiled constant must
// not change a decision: the snapshot is refused, the policy compiled.
func TestSnapshotChecksum(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := writePolicy(t, dir, "channels:\n  a: {type: syslog}\nrules:\n"+
		"  - {name: crit, when: 'severity == \"critical\"', notify: [a]}\n  - {name: rest, when: 'true', drop: true}\n")
	snap := snapshotOf(t, path, cache)
	flip := func() {
		t.Helper()
		data, err := os.ReadFile(snap)
		i := bytes.LastIndex(data, []byte("critical")) // the constant: after the rule's source
		if err != nil || i < 0 {
			t.Fatal(err, i)
		}
		data[i+6] = '4' // "critic4l"
		if err := os.WriteFile(snap, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip()
	p := cached(t, path, cache)
	ev := event.Event{Source: "cmon", Kind: "alarm", Action: "new", Severity: "critical", Fields: map[string]string{}}
	if d := p.Evaluate(&ev); p.FromSnapshot || d.Dropped || len(d.Deliveries) != 1 {
		t.Fatalf("altered snapshot used (%v): critical event dropped %v, deliveries %v", p.FromSnapshot, d.Dropped, d.Deliveries)
	}
	// Damaged, the last good version is refused, and the refusal said.
	if !cached(t, path, cache).FromSnapshot {
		t.Fatal("the refused snapshot was not replaced")
	}
	flip()
	os.WriteFile(path, []byte(broken), 0o644)
	lg, _, err := engine.LastGood(path, cache)
	if lg != nil || err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged last good: %v, %v", lg, err)
	}
}

// TestSnapshotNotThroughLinks: a snapshot is read only from this user's
// own directory, never through a symbolic link (whose target's owner is
// not who put the link there), and a FIFO in its place cannot hang a run.
func TestSnapshotNotThroughLinks(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := writePolicy(t, dir, pageAll)
	elsewhere := filepath.Join(dir, "elsewhere.snapshot")
	for _, c := range []struct {
		name  string
		plant func(snap string) error
		why   string
	}{
		{"symlink", func(snap string) error {
			if err := os.Rename(snap, elsewhere); err != nil {
				return err
			}
			return os.Symlink(elsewhere, snap)
		}, "symbolic link"},
		{"fifo", func(snap string) error {
			os.Remove(snap)
			return syscall.Mkfifo(snap, 0o600)
		}, "not a regular file"},
		{"directory link", func(snap string) error {
			user := filepath.Dir(snap)
			moved := filepath.Join(dir, "moved")
			if err := os.Rename(user, moved); err != nil {
				return err
			}
			return os.Symlink(moved, user)
		}, "symbolic link is not followed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(cache)
			writePolicy(t, dir, pageAll)
			snap := snapshotOf(t, path, cache)
			if err := c.plant(snap); err != nil {
				t.Fatal(err)
			}
			if cached(t, path, cache).FromSnapshot {
				t.Fatalf("a snapshot was used through a %s", c.name)
			}
			// Planted again over what that run wrote (if it could).
			st, err := os.Lstat(snap)
			if ud, _ := os.Lstat(filepath.Dir(snap)); err == nil && st.Mode().IsRegular() && ud.IsDir() {
				if err := c.plant(snap); err != nil {
					t.Fatal(err)
				}
			}
			writePolicy(t, dir, broken)
			lg, _, err := engine.LastGood(path, cache)
			if lg != nil || err == nil || !strings.Contains(err.Error(), c.why) {
				t.Errorf("last good through a %s: %v, %v; want refused: %s", c.name, lg, err, c.why)
			}
		})
	}
}

// TestCacheDirModes: the shared cache directory is sticky (nobody renames
// another user's entries), each user's own is 0700 and each snapshot
// 0600 (a channel's options may hold a secret); a directory others can
// write to, or another user's, is neither read nor written.
func TestCacheDirModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := writePolicy(t, dir, pageAll)
	snap := snapshotOf(t, path, cache)
	user := filepath.Join(cache, strconv.Itoa(os.Geteuid()))
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{cache, os.ModeDir | os.ModeSticky | os.ModeSetgid | 0o770},
		{user, os.ModeDir | 0o700},
		{snap, 0o600},
	} {
		if st, err := os.Lstat(c.path); err != nil || st.Mode() != c.want {
			t.Errorf("%s: %v, want mode %v", c.path, err, c.want)
		}
	}
	os.Chmod(user, 0o770)
	for range 2 {
		if cached(t, path, cache).FromSnapshot {
			t.Fatal("a snapshot was used from a group-writable directory")
		}
	}
	os.Chmod(user, 0o700)
	// A shared directory others could rename our directory in is not
	// trusted; one of ours is made sticky by the next run that writes.
	os.Chmod(cache, 0o770|os.ModeSetgid)
	if cached(t, path, cache).FromSnapshot {
		t.Fatal("a snapshot was used from a shared directory without the sticky bit")
	}
	if st, _ := os.Stat(cache); st.Mode()&os.ModeSticky == 0 || !cached(t, path, cache).FromSnapshot {
		t.Fatalf("our own shared directory was not made sticky (%v), or not used since", st.Mode())
	}
	// Nor through a link.
	os.Rename(cache, cache+".real")
	os.Symlink(cache+".real", cache)
	if cached(t, path, cache).FromSnapshot {
		t.Fatal("a snapshot was used through a linked cache directory")
	}
	os.Remove(cache)
	os.Rename(cache+".real", cache)
	if os.Geteuid() == 0 {
		// Another user's shared directory, or another user's own.
		for _, d := range []string{cache, user} {
			os.Chown(d, 65534, 65534)
			for range 2 {
				if cached(t, path, cache).FromSnapshot {
					t.Fatalf("a snapshot was used from %s, owned by another user", d)
				}
			}
			os.Chown(d, 0, 0)
		}
	}
}
