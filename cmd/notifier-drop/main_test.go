package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/engine/drop"
)

func alarm(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDrop: what notifier-drop does before it execs (run returns the
// command line instead): spooled and handed to notifier run --spooled
// when no engine claims it; bad input refused (exit 2, kept in rejected/
// beside $NOTIFIER_STATE_PATH, nothing spooled); a CMON message that is
// not an alarm ignored (exit 0, nothing spooled).
func TestDrop(t *testing.T) {
	dir := t.TempDir()
	env := []string{"NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db"), "NOTIFIER_BIN=/opt/notifier", "NOTIFIER_CONFIG=/etc/p.yaml"}
	sp := filepath.Join(dir, "spool")
	// No engine: the entry is claimed for this process, whose pid the
	// notifier it execs keeps (it adopts the claim).
	claimedDir := filepath.Join(sp, "claimed")
	entries := func() []string {
		es, _ := os.ReadDir(claimedDir)
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}

	var stderr bytes.Buffer
	code, argv, gotEnv := run(nil, strings.NewReader(alarm(t)), &stderr, env, time.Now())
	ids := entries()
	if code != 0 || len(ids) != 1 || stderr.Len() != 0 {
		t.Fatalf("exit %d, claimed/ %v, stderr %q", code, ids, stderr.String())
	}
	id, owner, _ := strings.Cut(ids[0], ".")
	owner, _ = url.PathUnescape(owner)
	if !drop.OwnedHere(owner) {
		t.Errorf("claimed for %q, not for this process", owner)
	}
	want := []string{"/opt/notifier", "run", "--spooled", id, "--owner", owner, "--spool", sp}
	if strings.Join(argv, " ") != strings.Join(want, " ") {
		t.Errorf("exec %q, want %q", argv, want)
	}
	if last := gotEnv[len(gotEnv)-1]; last != "NOTIFIER_SPOOL="+sp || len(gotEnv) != len(env)+1 {
		t.Errorf("exec environment %q, want the same plus NOTIFIER_SPOOL", gotEnv)
	}

	stderr.Reset()
	code, argv, _ = run(nil, strings.NewReader(`{"type":"alarm","action":"new"`), &stderr, env, time.Now())
	kept, _ := filepath.Glob(filepath.Join(dir, "rejected", "*.input"))
	if code != 2 || argv != nil || len(kept) != 1 || !strings.Contains(stderr.String(), "input kept in "+filepath.Join(dir, "rejected")) {
		t.Errorf("bad input: exit %d, exec %q, kept %v, stderr %q", code, argv, kept, stderr.String())
	}

	stderr.Reset()
	code, argv, _ = run(nil, strings.NewReader(`{"type":"event","action":"new","event":{}}`), &stderr, env, time.Now())
	if code != 0 || argv != nil || !strings.Contains(stderr.String(), "is not an alarm") {
		t.Errorf("not an alarm: exit %d, exec %q, stderr %q", code, argv, stderr.String())
	}
	if n := entries(); len(n) != 1 {
		t.Errorf("new/ holds %v, want only the first entry", n)
	}

	stderr.Reset()
	code, argv, _ = run([]string{"--source", "snmp"}, strings.NewReader(""), &stderr, env, time.Now())
	if code != 2 || argv != nil || !strings.Contains(stderr.String(), `--source "snmp"`) {
		t.Errorf("bad source: exit %d, exec %q, stderr %q", code, argv, stderr.String())
	}
}

// An unusable spool directory (here new/ is a link) is found before the
// input is read: the full binary is run in the drop's place, reads the
// input itself and decides it without the spool.
func TestUnusableSpoolRunsFullBinary(t *testing.T) {
	dir := t.TempDir()
	sp := filepath.Join(dir, "spool")
	if err := os.MkdirAll(sp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(sp, "new")); err != nil {
		t.Fatal(err)
	}
	env := []string{"NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db"), "NOTIFIER_BIN=/opt/notifier"}
	var stderr bytes.Buffer
	stdin := strings.NewReader(alarm(t))
	code, argv, _ := run([]string{"--source", "cmon"}, stdin, &stderr, env, time.Now())
	if want := "/opt/notifier run --source cmon"; code != 0 || strings.Join(argv, " ") != want {
		t.Errorf("exit %d, exec %q; want 0 and %q", code, argv, want)
	}
	if stdin.Len() != len(alarm(t)) {
		t.Error("the input was read")
	}
	if !strings.Contains(stderr.String(), "is a link or not a directory: refused") {
		t.Errorf("stderr %q", stderr.String())
	}
}
