package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCIExamples runs every notifier command of examples/ci/ against the
// layout they expect (policies/ and policies/tests/, here the shipped
// policy and its tests): they must all pass, as they would in users' CI.
func TestCIExamples(t *testing.T) {
	repo, dir := shippedLayout(t)
	t.Chdir(dir)

	ran := 0
	for _, name := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		data, err := os.ReadFile(filepath.Join(repo, "examples", "ci", name))
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
			line = strings.TrimSpace(strings.TrimPrefix(line, "run:"))
			if !strings.HasPrefix(line, "notifier ") || strings.HasPrefix(line, "notifier version") {
				continue
			}
			line, _, _ = strings.Cut(line, " ||") // the job's own error handling
			args := strings.Fields(strings.TrimPrefix(line, "notifier "))
			var out string
			if i := slicesIndex(args, ">"); i >= 0 {
				out, args = args[i+1], args[:i]
			}
			var stdout, stderr bytes.Buffer
			if code := exitCode(run(args, nil, &stdout, &stderr, nil), &stderr); code != exitOK {
				t.Errorf("%s: %q: exit %d\n%s%s", name, line, code, stdout.String(), stderr.String())
			}
			if out != "" {
				os.WriteFile(out, stdout.Bytes(), 0o644)
			}
			ran++
		}
	}
	if ran < 5 {
		t.Errorf("only %d notifier commands found in examples/ci", ran)
	}
	if _, err := os.Stat("notifier-tests.xml"); err != nil {
		t.Errorf("no JUnit report: %v", err)
	}
}

// TestReadmePolicyTestExample runs the policy test shown in the README
// against the shipped policy, from where it says it lives.
func TestReadmePolicyTestExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(policy: \\.\\./default\\.yaml.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no policy test example")
	}
	_, dir := shippedLayout(t)
	path := filepath.Join(dir, "policies", "tests", "readme_test.yaml")
	os.WriteFile(path, m[1], 0o644)
	var stdout, stderr bytes.Buffer
	if code := exitCode(run([]string{"test", path}, nil, &stdout, &stderr, nil), &stderr); code != exitOK {
		t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// shippedLayout makes the layout users' CI has — policies/ with the
// shipped policy, policies/tests/ with its tests, examples/ beside them —
// in a temporary directory, and returns the repository and that directory.
func shippedLayout(t *testing.T) (repo, dir string) {
	repo, _ = filepath.Abs("../..")
	dir = t.TempDir()
	os.MkdirAll(filepath.Join(dir, "policies", "tests"), 0o755)
	copyFile(t, filepath.Join(repo, "policies", "default.yaml"), filepath.Join(dir, "policies", "default.yaml"))
	copyFile(t, filepath.Join(repo, "policies", "tests", "default_test.yaml"), filepath.Join(dir, "policies", "tests", "default_test.yaml"))
	if err := os.Symlink(filepath.Join(repo, "examples"), filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	return repo, dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
