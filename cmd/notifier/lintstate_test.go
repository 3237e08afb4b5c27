package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintStateDir: on the machine where the policy runs (the installed
// policy, or --check-secrets) lint warns that the state directory is
// missing — every run would fail open; linting a repository's file in CI
// does not look at this machine.
func TestLintStateDir(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(policy, []byte("channels:\n  l: {type: syslog}\nrules:\n  - {name: all, when: 'true', notify: [l]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nothing-here", "state.db")
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_STATE_PATH=" + missing}
	tests := []struct {
		name string
		args []string
		want string // "" for no state-dir finding
	}{
		{"installed policy", []string{"lint"}, policy + ":1:1: warning: the state file " + missing + " ($NOTIFIER_STATE_PATH): directory " + filepath.Dir(missing) + " does not exist"},
		{"check-secrets", []string{"lint", "--check-secrets", policy}, "directory " + filepath.Dir(missing) + " does not exist"},
		{"a file in CI", []string{"lint", policy}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, "", env, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d (a warning must not fail lint); stderr %q", code, stderr)
			}
			if tt.want == "" {
				if strings.Contains(stdout, "state-dir") {
					t.Errorf("stdout = %q, want no state-dir finding", stdout)
				}
				return
			}
			if !strings.Contains(stdout, tt.want) || !strings.Contains(stdout, "[state-dir]") {
				t.Errorf("stdout = %q, want %q [state-dir]", stdout, tt.want)
			}
		})
	}
}
