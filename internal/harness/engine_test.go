package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// SpoolDepth (moved here from bench/state, which now uses it) counts
// new/, claimed/ and the entries in bad/, not their .reason files nor
// tmp/.
func TestSpoolDepthCountsQueuedClaimedAndBad(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"new/a", "new/b", "claimed/c.owner", "bad/d", "bad/d.reason", "tmp/e"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if queued, claimed, bad, err := SpoolDepth(dir); err != nil || queued != 2 || claimed != 1 || bad != 1 {
		t.Fatalf("SpoolDepth = %d queued, %d claimed, %d bad, %v; want 2, 1, 1", queued, claimed, bad, err)
	}
	if queued, claimed, bad, err := SpoolDepth(filepath.Join(dir, "none")); err != nil || queued+claimed+bad != 0 {
		t.Fatalf("SpoolDepth of no spool = %d, %d, %d, %v; want nothing", queued, claimed, bad, err)
	}
}
