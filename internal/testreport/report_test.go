package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// testdata/run.jsonl is `go test -p 1 -json ./...` over a module with a
// passing package with skips, a failing subtest, a build failure and a
// panicking subtest; run.txt is `go test -p 1 ./... 2>&1` over the same
// (both with times, addresses and paths made constant).

func TestReportPrintsWhatGoTestPrints(t *testing.T) {
	in, err := os.Open("testdata/run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	want, err := os.ReadFile("testdata/run.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := report(in, &out); err != nil {
		t.Fatal(err)
	}
	// go test's closing FAIL is not in the JSON: run prints it.
	wantText := strings.TrimSuffix(string(want), "FAIL\n")
	if out.String() != wantText {
		t.Errorf("report printed:\n%s\nwant (go test without -json):\n%s", out.String(), wantText)
	}
}

func TestReportCollectsSkips(t *testing.T) {
	in, err := os.Open("testdata/run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	skips, err := report(in, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	want := []Skip{
		{Package: "t2j/a", Test: "TestSkip", Reason: "no redis here"},
		{Package: "t2j/a", Test: "TestSub/x", Reason: "sub why"},
	}
	if !slices.Equal(skips, want) {
		t.Errorf("skips = %+v, want %+v", skips, want)
	}
}

func TestSummary(t *testing.T) {
	redis := "redistest: redis-server not found on PATH"
	for _, tc := range []struct {
		name  string
		skips []Skip
		want  string
	}{
		{"none", nil, "skipped: 0 tests\n"},
		{"one", []Skip{{"p", "TestA", "root"}}, "SKIP p TestA: root\nskipped: 1 test (1: root)\n"},
		{"grouped, most frequent first", []Skip{{"p", "TestA", "root"}, {"q", "TestR1", redis}, {"q", "TestR2", redis}},
			"SKIP p TestA: root\nSKIP q TestR1: " + redis + "\nSKIP q TestR2: " + redis + "\n" +
				"skipped: 3 tests (2: " + redis + "; 1: root)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			summary(&out, tc.skips)
			if out.String() != tc.want {
				t.Errorf("summary:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestSkipReason(t *testing.T) {
	for _, tc := range []struct {
		lines []line
		want  string
	}{
		{[]line{{text: "    x_test.go:4: no redis: here\n"}, {text: "--- SKIP: TestX (0.00s)\n"}}, "no redis: here"},
		{[]line{{text: "    plain words\n"}}, "plain words"},
		{nil, "(no reason given)"},
	} {
		if got := skipReason(tc.lines); got != tc.want {
			t.Errorf("skipReason(%+v) = %q, want %q", tc.lines, got, tc.want)
		}
	}
}

// TestRunKeepsExitStatus: the command's status is run's, a failed run
// ends with go test's FAIL line, and the summary comes last.
func TestRunKeepsExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		exit string
		want int
	}{{"pass", "0", 0}, {"fail", "1", 1}, {"other status", "3", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			got := run([]string{"sh", "-c", "cat testdata/run.jsonl; exit " + tc.exit}, &out, &errOut)
			if got != tc.want {
				t.Errorf("exit status %d, want %d (stderr %q)", got, tc.want, errOut.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			if last != "skipped: 2 tests (1: no redis here; 1: sub why)" {
				t.Errorf("last line %q", last)
			}
			failed := lines[len(lines)-4] == "FAIL"
			if failed != (tc.want != 0) {
				t.Errorf("closing FAIL line printed: %v, want %v:\n%s", failed, tc.want != 0, out.String())
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if got := run(nil, &out, &errOut); got != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Errorf("run() = %d, stderr %q", got, errOut.String())
	}
}
