package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestDefaultPolicyTemplateExamples: the template options shown
// commented out in the shipped policy lint clean once uncommented, so
// what a user copies from /etc/notifier/notifier.yaml works.
func TestDefaultPolicyTemplateExamples(t *testing.T) {
	data, err := os.ReadFile("../../policies/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	option := regexp.MustCompile(`(?m)^(\s+)# ((summary|links|custom_details): .*)$`)
	if n := len(option.FindAll(data, -1)); n < 3 {
		t.Fatalf("the shipped policy shows %d commented-out template options, want summary, links and custom_details", n)
	}
	path := filepath.Join(t.TempDir(), "notifier.yaml")
	if err := os.WriteFile(path, option.ReplaceAll(data, []byte("$1$2")), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := exitCode(run([]string{"lint", "--strict", path}, nil, &stdout, &stderr, nil), &stderr); code != exitOK || stdout.Len() > 0 {
		t.Errorf("uncommented: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestExamplePolicyTests runs the complete example's policy tests: who
// is told of what, in and out of its windows, and what its templates
// render (the email fallback, the cluster's name, the runbook link).
func TestExamplePolicyTests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := exitCode(run([]string{"test", "../../examples/config/tests"}, nil, &stdout, &stderr, nil), &stderr); code != exitOK ||
		!bytes.Contains(stdout.Bytes(), []byte("PASS: ")) {
		t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
