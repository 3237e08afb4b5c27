package lastgood

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/policy"
)

// tree is what is under root, not following links: each path (relative)
// with its mode, and a file's content or a link's target, so that a
// write under root, or through a link to it, shows as a difference.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		v := st.Mode().String()
		switch {
		case st.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + string(data)
		case st.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			v += " -> " + target
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test when root holds something other than before.
func sameTree(t *testing.T, what, root string, before map[string]string) {
	t.Helper()
	after := tree(t, root)
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s: %s was written: %q, was %q", what, filepath.Join(root, p), v, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s was removed", what, filepath.Join(root, p))
		}
	}
}

// TestKeptFileModes: a kept file others can write to, or another user's,
// is refused, and why is said: whoever could write it could make the
// run drop every alarm.
func TestKeptFileModes(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, pageAll)
	kept := keptOf(t, path, cache)
	writePolicy(t, path, broken)
	refused := func(why string) {
		t.Helper()
		lg, notes := Fallback(path, cache, errors.New("broken"), policy.Options{})
		if lg != nil || len(notes) != 1 || !strings.Contains(notes[0], "last good policy for "+path+" not used") || !strings.Contains(notes[0], why) {
			t.Errorf("kept file that %s: %v %q, want refused, saying so", why, lg, notes)
		}
	}
	for _, mode := range []os.FileMode{0o666, 0o660, 0o620, 0o602} {
		if err := os.Chmod(kept, mode); err != nil {
			t.Fatal(err)
		}
		refused("mode " + mode.String() + ": others can write to it")
	}
	if err := os.Chmod(kept, 0o600); err != nil {
		t.Fatal(err)
	}
	if lg, notes := Fallback(path, cache, errors.New("broken"), policy.Options{}); lg == nil {
		t.Fatalf("own kept file, 0600, not used: %q", notes)
	}
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	if err := os.Chown(kept, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	refused("owned by uid 65534, not by this user (uid 0)")
}

// TestOldSnapshotsRemoved: the policy snapshots older versions left in
// this user's directory are removed when a policy is kept there; a link
// or a directory named so is left alone, and so is what the link points
// to.
func TestOldSnapshotsRemoved(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, pageAll)
	kept := keptOf(t, path, cache)
	user := filepath.Dir(kept)
	target := filepath.Join(dir, "target.snapshot")
	writePolicy(t, target, "not ours")
	for _, f := range []string{"policy-0123456789abcdef.snapshot", "policy-fedcba9876543210.snapshot"} {
		if err := os.WriteFile(filepath.Join(user, f), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(target, filepath.Join(user, "link.snapshot")))
	must(os.Mkdir(filepath.Join(user, "dir.snapshot"), 0o700))
	must(os.WriteFile(filepath.Join(user, "other.snapshot.bak"), []byte("x"), 0o600))
	// An unchanged policy is not kept again: nothing is looked at.
	load(t, path, cache)
	if _, err := os.Lstat(filepath.Join(user, "policy-0123456789abcdef.snapshot")); err != nil {
		t.Fatalf("a run that kept nothing removed an old snapshot: %v", err)
	}
	targetBefore := tree(t, target)
	writePolicy(t, path, dropAll)
	load(t, path, cache)
	var left []string
	entries, err := os.ReadDir(user)
	must(err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"dir.snapshot", "link.snapshot", "other.snapshot.bak", fileName(path)}
	if strings.Join(left, " ") != strings.Join(want, " ") {
		t.Errorf("left %q, want %q", left, want)
	}
	sameTree(t, "a link named .snapshot", target, targetBefore)
	writePolicy(t, path, broken)
	if lg, _, err := lastGood(path, cache, policy.Options{}); lg == nil || err != nil || lg.Rules[0].Name != "drop-all" {
		t.Fatalf("kept policy after the old snapshots went: %v, %v", lg, err)
	}
}
