package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"notifier/engine/policy"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLintCorpus runs `notifier lint --check-secrets --format json` on
// every broken policy under testdata/lint (a file, or a directory read as
// one policy) and compares the findings with the file's own expectations:
// comment lines `# want: LINE:COL SEVERITY CHECK` at its end. Exactly
// those findings, nothing more, each a single line naming its place.
func TestLintCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "lint")
	// Git does not keep modes: the secrets are made private here, and the
	// world-readable one readable.
	for name, mode := range map[string]os.FileMode{"pd.key": 0o600, "slack.url": 0o600, "world/pd.key": 0o644} {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases, checks := 0, map[string]bool{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() && filepath.Ext(path) != ".yaml" || e.Name() == "world" {
			continue
		}
		cases++
		t.Run(e.Name(), func(t *testing.T) {
			want := corpusWants(t, path)
			if len(want) == 0 {
				t.Fatal("no # want: lines: every corpus case expects at least one finding")
			}
			var stdout, stderr bytes.Buffer
			// The default state file in a directory that exists, so only the
			// state-dir case finds one missing, on any machine.
			env := []string{"NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")}
			err := run([]string{"lint", "--check-secrets", "--format", "json", path}, nil, &stdout, &stderr, env)
			var ps []policy.Problem
			if jerr := json.Unmarshal(stdout.Bytes(), &ps); jerr != nil {
				t.Fatalf("output is not JSON: %v\n%s%s", jerr, stdout.String(), stderr.String())
			}
			var got []string
			errs := 0
			for _, p := range ps {
				got = append(got, fmt.Sprintf("%s:%d:%d %s %s", filepath.Base(p.File), p.Line, p.Col, p.Severity, p.Check))
				checks[p.Check] = true
				if p.Severity == "error" {
					errs++
				}
				if strings.ContainsAny(p.Message, "\n\r") || p.Message == "" {
					t.Errorf("message not one line: %q", p.Message)
				}
				if strings.Contains(p.Message, "0123456789abcdef0123456789abcdef") || strings.Contains(p.Message, "xoxb-") || strings.Contains(p.Message, "hunter2") {
					t.Errorf("message shows a secret: %q", p.Message)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n  got  %s\n  want %s\n%s", strings.Join(got, "\n       "), strings.Join(want, "\n       "), stdout.String())
			}
			if code := exitCode(err, &bytes.Buffer{}); (errs > 0) != (code == exitProblem) || code == exitUsage {
				t.Errorf("exit %d with %d errors", code, errs)
			}
		})
	}
	if cases < 40 {
		t.Errorf("only %d corpus cases; the corpus covers every check with at least 40", cases)
	}
	t.Logf("%d cases, %d distinct checks", cases, len(checks))
	// policy.Checks, which ignore directives are checked against, is
	// every check the corpus shows ("read", a path lint cannot read, is
	// TestLintFormats').
	checks["read"] = true
	for _, c := range policy.Checks {
		if !checks[c] {
			t.Errorf("check %q is in policy.Checks but no corpus case shows it", c)
		}
		delete(checks, c)
	}
	for c := range checks {
		t.Errorf("check %q is reported but missing from policy.Checks", c)
	}
}

// corpusWants reads the `# want:` lines of a case, prefixed with the base
// name of their file.
func corpusWants(t *testing.T, path string) []string {
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.yaml"))
	}
	var want []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
				want = append(want, filepath.Base(f)+":"+w)
			}
		}
	}
	return want
}

func TestLintFormats(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("channels:\n  log: {type: syslog}\n  spare: {type: syslog}\nrules:\n  - {name: a, when: 'severity == \"crit\"', notify: [log]}\n  - {name: b, when: 'true', notify: [log]}\n"), 0o644)
	warnOnly := filepath.Join(dir, "warn.yaml")
	os.WriteFile(warnOnly, []byte("channels:\n  log: {type: syslog}\n  spare: {type: syslog}\nrules:\n  - {name: a, when: 'true', notify: [log]}\n"), 0o644)
	clean := filepath.Join(dir, "clean.yaml")
	os.WriteFile(clean, []byte("channels:\n  log: {type: syslog}\nrules:\n  - {name: a, when: 'true', notify: [log]}\n"), 0o644)

	tests := []struct {
		args []string
		code int
		out  string // exact stdout
	}{
		{[]string{"lint", bad}, exitProblem, bad + `:5:34: error: when: severity is never "crit" (it is one of "critical", "warning", "info"), so this comparison is always false (at "severity == \"crit\"") [impossible-value]` + "\n"},
		{[]string{"lint", "--format", "github", bad}, exitProblem, "::error file=" + bad + `,line=5,col=34,title=notifier lint%3A impossible-value::when: severity is never "crit" (it is one of "critical", "warning", "info"), so this comparison is always false (at "severity == \"crit\"")` + "\n"},
		{[]string{"lint", warnOnly}, exitOK, warnOnly + ":3:3: warning: channels.spare: no rule uses this channel [unused-channel]\n"},
		{[]string{"lint", warnOnly, "--strict"}, exitProblem, warnOnly + ":3:3: warning: channels.spare: no rule uses this channel [unused-channel]\n"},
		{[]string{"lint", "--format", "json", clean}, exitOK, "[]\n"},
		{[]string{"lint", clean, warnOnly}, exitOK, warnOnly + ":3:3: warning: channels.spare: no rule uses this channel [unused-channel]\n"},
		{[]string{"lint", "--format", "xml", clean}, exitUsage, ""},
		// A path that is not there is a usage error, said as a finding so
		// the other paths' findings still come.
		{[]string{"lint", filepath.Join(dir, "missing.yaml"), warnOnly}, exitUsage, filepath.Join(dir, "missing.yaml") + ": error: policy stat " + filepath.Join(dir, "missing.yaml") + ": no such file or directory [read]\n" +
			warnOnly + ":3:3: warning: channels.spare: no rule uses this channel [unused-channel]\n"},
		{[]string{"lint", "--no-such-flag"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := exitCode(run(tt.args, nil, &stdout, &stderr, nil), &stderr)
			if code != tt.code || stdout.String() != tt.out {
				t.Errorf("exit %d, stdout:\n%s\nwant exit %d, stdout:\n%s\nstderr: %s", code, stdout.String(), tt.code, tt.out, stderr.String())
			}
		})
	}
	// The default path is the configured one.
	var stdout, stderr bytes.Buffer
	code := exitCode(run([]string{"lint"}, nil, &stdout, &stderr, []string{"NOTIFIER_CONFIG=" + bad}), &stderr)
	if code != exitProblem || !strings.Contains(stdout.String(), "impossible-value") {
		t.Errorf("lint without PATH did not lint $NOTIFIER_CONFIG: exit %d\n%s", code, stdout.String())
	}
}

// TestLintShipped: every policy the project ships or shows is clean.
func TestLintShipped(t *testing.T) {
	paths := []string{"../../policies/default.yaml", "../../examples/config/notifier.yaml", "../../bench/policy-100.yaml"}
	for _, p := range paths {
		var stdout, stderr bytes.Buffer
		if code := exitCode(run([]string{"lint", "--strict", p}, nil, &stdout, &stderr, nil), &stderr); code != exitOK || stdout.Len() > 0 {
			t.Errorf("%s: exit %d\n%s%s", p, code, stdout.String(), stderr.String())
		}
	}
}
