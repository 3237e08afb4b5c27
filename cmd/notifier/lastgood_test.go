package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"notifier/internal/apitest"
)

// snapshotsIn lists the kept last good policies under a cache directory.
func snapshotsIn(cache string) []string {
	top, _ := filepath.Glob(filepath.Join(cache, "*.lastgood"))
	sub, _ := filepath.Glob(filepath.Join(cache, "*", "*.lastgood"))
	return append(top, sub...)
}

// TestLastGoodRefusesSwappedSnapshot is the attack of issue 9, item 8:
// root ran a drop-all test policy once; someone who can write the cache
// directory renames that snapshot over the real policy's last-good one
// (or changes a byte of it), then the real policy breaks. The critical
// alarm must not be dropped: the snapshot is refused, loudly, and the run
// falls back as with no last good policy at all (local syslog, exit 2).
func TestLastGoodRefusesSwappedSnapshot(t *testing.T) {
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	for _, attack := range []struct {
		name string
		swap func(realSnap, testSnap string) error
		why  string
	}{
		{"another policy's snapshot", func(realSnap, testSnap string) error {
			return os.Rename(testSnap, realSnap)
		}, "made from another policy"},
		{"one byte changed", func(realSnap, _ string) error {
			data, err := os.ReadFile(realSnap)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 0x01
			return os.WriteFile(realSnap, data, 0o600)
		}, "checksum does not match"},
	} {
		t.Run(attack.name, func(t *testing.T) {
			pd := apitest.NewPagerDuty()
			defer pd.Close()
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			real, test := filepath.Join(dir, "real.yaml"), filepath.Join(dir, "test.yaml")
			good := "channels:\n  pager: {type: pagerduty, routing_key: \"0123456789abcdef0123456789abcdef\", events_url: \"" + pd.URL() + "\"}\n" +
				"rules:\n  - {name: all, when: 'true', notify: [pager]}\n"
			os.WriteFile(real, []byte(good), 0o644)
			os.WriteFile(test, []byte("rules:\n  - {name: drop-all, when: 'true', drop: true}\n"), 0o644)
			env := []string{"NOTIFIER_CONFIG=" + real, "NOTIFIER_CACHE_DIR=" + cache, "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}
			if code, _, stderr := runInProcess(t, string(alarm), env); code != 0 {
				t.Fatalf("real policy: exit %d: %s", code, stderr)
			}
			realSnaps := snapshotsIn(cache)
			testEnv := []string{"NOTIFIER_CACHE_DIR=" + cache, "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "test.db")}
			if code, _, stderr := runInProcess(t, string(alarm), testEnv, "run", "--config", test); code != 0 {
				t.Fatalf("test policy: exit %d: %s", code, stderr)
			}
			var testSnaps []string
			for _, f := range snapshotsIn(cache) {
				if !slices.Contains(realSnaps, f) {
					testSnaps = append(testSnaps, f)
				}
			}
			if len(realSnaps) != 1 || len(testSnaps) != 1 {
				t.Fatalf("snapshots %v then %v, want one each", realSnaps, testSnaps)
			}
			if err := attack.swap(realSnaps[0], testSnaps[0]); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(real, []byte(good+"  - {name: typo, when: 'severty == 1', notify: [pager]}\n"), 0o644)
			code, _, stderr := runInProcess(t, string(alarm), env)
			if strings.Contains(stderr, "using the last policy") || strings.Contains(stderr, "drop-all") {
				t.Fatalf("the swapped snapshot was used:\n%s", stderr)
			}
			if code != 2 || !strings.Contains(stderr, "last good policy for "+real+" not used") ||
				!strings.Contains(stderr, attack.why) || !strings.Contains(stderr, "unknown name severty") ||
				!strings.Contains(stderr, "local syslog") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2, the refusal (%s), the load error and the fallback", code, stderr, attack.why)
			}
		})
	}
}
