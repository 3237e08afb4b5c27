package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"notifier/engine/pipeline"
	"notifier/engine/policytest"
)

// testCmd runs policy unit tests (engine/policytest): every test file
// named, or every *.yaml in a directory named; by default the tests/
// directory beside the configured policy. Exit 0 when all pass, 1 when a
// test fails or a file or its policy is broken, 2 for usage.
func (a *app) testCmd(args []string) error {
	fs := a.newFlags("test")
	configFlag := fs.String("config", "", "the policy of test files that name none (default $NOTIFIER_CONFIG, else "+defaultConfig+")")
	runRE := fs.String("run", "", "run only the tests whose name matches `REGEXP`")
	junit := fs.String("junit", "", "also write the results as JUnit XML to `FILE`, for CI")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: notifier test [--run REGEXP] [--junit FILE] [PATH...]\n\nPATH is a test file or a directory of them; default the tests/ directory beside the policy.\n\n")
		fs.PrintDefaults()
	}
	paths, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	opts := policytest.Options{Load: newWiring().loadOptions(), DefaultPolicy: a.configPath(*configFlag),
		Wiring: func() *pipeline.Wiring { return newWiring().w }} // each file's policy its own, templates rendered
	if *runRE != "" {
		if opts.Filter, err = regexp.Compile(*runRE); err != nil {
			return usageErr("test: --run: %v", err)
		}
	}
	if len(paths) == 0 {
		paths = []string{defaultTestDir(opts.DefaultPolicy)}
	}
	files, err := testFiles(paths)
	if err != nil {
		return usageErr("test: %v", err)
	}
	var results []*policytest.Result
	ran, failed := 0, 0
	for _, f := range files {
		r := policytest.RunFile(f, opts)
		results = append(results, r)
		n, bad := reportTests(a.stdout, r)
		ran, failed = ran+n, failed+bad
	}
	if *junit != "" {
		if err := writeJUnit(*junit, results); err != nil {
			return problemErr(fmt.Errorf("test: --junit: %w", err))
		}
	}
	broken := 0
	for _, r := range results {
		if len(r.Problems.Errors()) > 0 {
			broken++
		}
	}
	switch {
	case failed > 0 || broken > 0:
		fmt.Fprintf(a.stdout, "FAIL: %d of %d tests failed, %d of %d files broken\n", failed, ran, broken, len(files))
		return problemsFound()
	case ran == 0:
		fmt.Fprintf(a.stdout, "no tests ran (--run %q matched none)\n", *runRE)
		return problemsFound()
	}
	fmt.Fprintf(a.stdout, "PASS: %d %s in %d %s\n", ran, plural(ran, "test"), len(files), plural(len(files), "file"))
	return nil
}

// defaultTestDir is the tests/ directory beside the policy file, or
// inside the policy directory.
func defaultTestDir(policy string) string {
	if st, err := os.Stat(policy); err == nil && st.IsDir() {
		return filepath.Join(policy, "tests")
	}
	return filepath.Join(filepath.Dir(policy), "tests")
}

// testFiles expands directories into their *.yaml and *.yml files.
func testFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pattern))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml test files", p)
		}
		files = append(files, found...)
	}
	return files, nil
}

// reportTests prints one file's results and returns how many tests ran
// and how many failed.
func reportTests(w io.Writer, r *policytest.Result) (ran, failed int) {
	if errs := r.Problems.Errors(); len(errs) > 0 {
		what := "test file"
		if r.PolicyBroken {
			what = "policy (run notifier lint on it)"
		}
		fmt.Fprintf(w, "--- BROKEN: %s: the %s does not load:\n", r.File, what)
		for _, p := range errs {
			fmt.Fprintf(w, "    %s\n", lintLine(p))
		}
		return 0, 0
	}
	var total float64
	for _, t := range r.Tests {
		if t.Skipped {
			continue
		}
		ran++
		total += t.Duration.Seconds()
		if len(t.Failures) == 0 {
			continue
		}
		failed++
		fmt.Fprintf(w, "--- FAIL: %s: %s\n", r.File, t.Name)
		for _, f := range t.Failures {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(f, "\n", "\n    "))
		}
	}
	if len(r.Uncovered) > 0 {
		fmt.Fprintf(w, "    coverage: no test matches rule %s\n", strings.Join(r.Uncovered, ", "))
	}
	status := "ok  "
	if failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s  %d %s, %d failed (%.3fs)\n", status, r.File, ran, plural(ran, "test"), failed, total)
	return ran, failed
}

// JUnit XML, the shape GitHub and GitLab CI read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path string, results []*policytest.Result) error {
	var doc junitSuites
	for _, r := range results {
		s := junitSuite{Name: r.File}
		var total float64
		if errs := r.Problems.Errors(); len(errs) > 0 {
			var lines []string
			for _, p := range errs {
				lines = append(lines, lintLine(p))
			}
			s.Cases = append(s.Cases, junitCase{Name: "load", Classname: r.File, Time: "0",
				Error: &junitMessage{Message: "does not load: " + lines[0], Text: strings.Join(lines, "\n")}})
			s.Tests, s.Errors = 1, 1
		}
		for _, t := range r.Tests {
			c := junitCase{Name: t.Name, Classname: r.File, Time: fmt.Sprintf("%.6f", t.Duration.Seconds())}
			total += t.Duration.Seconds()
			s.Tests++
			switch {
			case t.Skipped:
				c.Skipped = &struct{}{}
				s.Skipped++
			case len(t.Failures) > 0:
				first, _, _ := strings.Cut(t.Failures[0], "\n")
				c.Failure = &junitMessage{Message: first, Text: strings.Join(t.Failures, "\n\n")}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Time = fmt.Sprintf("%.6f", total)
		doc.Tests, doc.Failures, doc.Errors = doc.Tests+s.Tests, doc.Failures+s.Failures, doc.Errors+s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}
