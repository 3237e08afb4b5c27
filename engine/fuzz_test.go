package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"notifier/engine/policy"
)

// FuzzCompile feeds arbitrary policy text to the loader: it must never
// panic, every problem must have a place and a single line, and a policy
// comes back exactly when there is no error.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("../policies/*.yaml")
	more, _ := filepath.Glob("../examples/config/*.yaml")
	ignores, _ := filepath.Glob("../cmd/notifier/testdata/lint/ignore*.yaml")
	seeds = append(append(seeds, more...), ignores...)
	for _, storm := range []string{"inhibit", "duplicate-inhibit", "flapping", "group", "rate"} {
		seeds = append(seeds, "../cmd/notifier/testdata/lint/"+storm+".yaml")
	}
	seeds = append(seeds, "policytest/testdata/storm_policy.yaml")
	for _, s := range append(seeds, "../bench/policy-100.yaml") {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(channelsYAML + "rules:\n  - name: a\n    when: |\n      rank(severity) > 1 && in_window(\"business-hours\")\n    notify: [pager]\n"))
	f.Add([]byte("rules: [{name: a, when: 'let x = 1; x > 0', drop: true}]\nwindows: {w: {times: ['22:00-06:00']}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs := []policy.Source{{Name: "fuzz.yaml", Data: data}}
		p, ps := Lint(srcs, policy.Options{})
		for _, pr := range ps {
			if pr.File != "fuzz.yaml" || pr.Line < 0 || pr.Col < 0 || strings.Contains(pr.Error(), "\n") || pr.Check == "" {
				t.Fatalf("bad problem %+v", pr)
			}
		}
		// The run's load: what it refuses, lint refuses; its errors are
		// lint's too; and it accepts what lint accepts.
		run, rps := Compile(srcs, policy.Options{})
		if (run == nil) != (len(rps.Errors()) > 0) || (run == nil) != (p == nil) {
			t.Fatalf("run's policy %v with errors %v; lint's policy %v", run != nil, rps.Errors(), p != nil)
		}
		for _, e := range rps.Errors() {
			if !slices.Contains(ps, e) {
				t.Fatalf("the run's error %v is not lint's: %v", e, ps)
			}
		}
		const marker = "notifier:ignore"
		if strings.Contains(string(data), marker) {
			// Ignore directives never change the errors.
			_, without := Lint([]policy.Source{{Name: "fuzz.yaml", Data: []byte(strings.ReplaceAll(string(data), marker, "notifier:xgnore"))}}, policy.Options{})
			where := func(ps policy.Problems) (out []string) {
				for _, p := range ps.Errors() {
					out = append(out, fmt.Sprintf("%d:%d %s", p.Line, p.Col, p.Check))
				}
				return out
			}
			if a, b := fmt.Sprint(where(ps)), fmt.Sprint(where(without)); a != b {
				t.Fatalf("errors with directives:\n%s\nwithout:\n%s", a, b)
			}
		}
		if p == nil {
			return
		}
		for _, r := range p.Rules {
			if r.program == nil {
				t.Fatalf("rule %q loaded without a program: %v", r.Name, ps)
			}
		}
	})
}
