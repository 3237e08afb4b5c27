package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/state"
)

// TestBoltNeverThroughLinks: the state directory is writable by the
// haclient group, so a link put where the state file or its lock file
// belongs must not make a run (as root, for CMON) create or write the
// file it points at. The run is refused with a line that says why, and
// the target is untouched.
func TestBoltNeverThroughLinks(t *testing.T) {
	for _, link := range []string{"state.db", "state.db.lock"} {
		for _, target := range []string{"existing", "missing"} {
			t.Run(link+"/"+target, func(t *testing.T) {
				dir := t.TempDir()
				victim := filepath.Join(dir, "victim")
				if target == "existing" {
					if err := os.WriteFile(victim, []byte("not notifier's\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Symlink(victim, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
				s := openTestBolt(t, filepath.Join(dir, "state.db"))
				err := s.Update(context.Background(), []string{"k"}, func(recs map[string]*state.Record) error {
					recs["k"] = &state.Record{Data: []byte(`"v"`)}
					return nil
				})
				if !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "symbolic link") {
					t.Fatalf("Update through a link: %v, want state unavailable naming the link", err)
				}
				got, rerr := os.ReadFile(victim)
				switch {
				case target == "missing" && !errors.Is(rerr, os.ErrNotExist):
					t.Errorf("the link's target was created (%v)", rerr)
				case target == "existing" && string(got) != "not notifier's\n":
					t.Errorf("the link's target was written: %q", got)
				}
			})
		}
	}
}
