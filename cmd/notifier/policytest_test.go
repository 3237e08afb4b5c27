package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped policy's tests pass, and cover every rule of it.
func TestShippedPolicyTests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code := exitCode(run([]string{"test", "--junit", junit, "../../policies/tests"}, nil, &stdout, &stderr, nil), &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "PASS: ") {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "coverage:") {
		t.Errorf("a rule of the default policy has no test:\n%s", stdout.String())
	}
	var doc junitSuites
	data, _ := os.ReadFile(junit)
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Tests < 10 || doc.Failures != 0 || len(doc.Suites) != 1 {
		t.Errorf("junit: %v %+v", err, doc)
	}
}

func TestPolicyTestFailsAndReports(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("channels:\n  log: {type: syslog}\nrules:\n  - {name: all, when: 'true', notify: [log]}\n"), 0o644)
	tests := filepath.Join(dir, "tests")
	os.Mkdir(tests, 0o755)
	os.WriteFile(filepath.Join(tests, "a.yaml"), []byte("policy: ../p.yaml\ntests:\n  - name: quiet\n    steps:\n      - event: {source: cmon, action: new, severity: info, id: '1'}\n        expect: {}\n  - name: logs\n    steps:\n      - event: {source: cmon, action: new, severity: info, id: '1'}\n        expect: {deliveries: [{channel: log}]}\n"), 0o644)
	junit := filepath.Join(dir, "junit.xml")
	var stdout, stderr bytes.Buffer
	// No PATH: the tests/ directory beside $NOTIFIER_CONFIG.
	code := exitCode(run([]string{"test", "--junit", junit}, nil, &stdout, &stderr, []string{"NOTIFIER_CONFIG=" + filepath.Join(dir, "p.yaml")}), &stderr)
	out := stdout.String()
	if code != exitProblem || !strings.Contains(out, "--- FAIL: "+filepath.Join(tests, "a.yaml")+": quiet") || !strings.Contains(out, "FAIL: 1 of 2 tests failed") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr.String())
	}
	var doc junitSuites
	data, _ := os.ReadFile(junit)
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Failures != 1 || doc.Suites[0].Cases[0].Failure == nil {
		t.Errorf("junit: %v %s", err, data)
	}
	// --run picks the passing one.
	stdout.Reset()
	code = exitCode(run([]string{"test", tests, "--run", "^logs$"}, nil, &stdout, &stderr, nil), &stderr)
	if code != exitOK {
		t.Errorf("--run: exit %d\n%s", code, stdout.String())
	}
	for _, args := range [][]string{{"test", "--run", "("}, {"test", filepath.Join(dir, "missing")}} {
		if code := exitCode(run(args, nil, &stdout, &stderr, nil), &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
