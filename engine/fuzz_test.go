package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/event"
)

// FuzzCompile feeds arbitrary policy text to the loader: it must never
// panic, every problem must have a place and a single line, a policy
// comes back exactly when there is no error, and a policy that loads
// must survive a snapshot round trip.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("../policies/*.yaml")
	more, _ := filepath.Glob("../examples/config/*.yaml")
	ignores, _ := filepath.Glob("../cmd/notifier/testdata/lint/ignore*.yaml")
	seeds = append(append(seeds, more...), ignores...)
	for _, s := range append(seeds, "../bench/policy-100.yaml") {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(channelsYAML + "rules:\n  - name: a\n    when: |\n      rank(severity) > 1 && in_window(\"business-hours\")\n    notify: [pager]\n"))
	f.Add([]byte("rules: [{name: a, when: 'let x = 1; x > 0', drop: true}]\nwindows: {w: {times: ['22:00-06:00']}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, ps := Compile([]Source{{Name: "fuzz.yaml", Data: data}}, LoadOptions{})
		for _, pr := range ps {
			if pr.File != "fuzz.yaml" || pr.Line < 0 || pr.Col < 0 || strings.Contains(pr.Error(), "\n") || pr.Check == "" {
				t.Fatalf("bad problem %+v", pr)
			}
		}
		if (p == nil) != (len(ps.Blocking()) > 0) {
			t.Fatalf("policy %v with blocking errors %v", p != nil, ps.Blocking())
		}
		if strings.Contains(string(data), ignoreMarker) {
			// Ignore directives never change the errors.
			_, without := Compile([]Source{{Name: "fuzz.yaml", Data: []byte(strings.ReplaceAll(string(data), ignoreMarker, "notifier:xgnore"))}}, LoadOptions{})
			where := func(ps Problems) (out []string) {
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
		data, err := encodeSnapshot(p)
		if err != nil {
			return // not every policy can be snapshotted; it is then compiled each run
		}
		id := policyID{Root: "/p", Files: []fileID{{Name: "fuzz.yaml", Path: "/p", Sum: [32]byte{1}}}}
		_, gotID, body, err := unsealSnapshot(sealSnapshot(snapKey{2}, id, data))
		if err != nil || gotID.Root != id.Root || len(gotID.Files) != 1 || gotID.Files[0] != id.Files[0] {
			t.Fatalf("snapshot seal round trip: %v %+v", err, gotID)
		}
		back, err := decodeSnapshot(body)
		if err != nil || len(back.Rules) != len(p.Rules) {
			t.Fatalf("snapshot round trip: %v", err)
		}
		ev := event.Event{Source: "cmon", Severity: "critical", Action: "new", Fields: map[string]string{}}
		a, b := p.Evaluate(&ev), back.Evaluate(&ev)
		if len(a.Deliveries) != len(b.Deliveries) || a.Dropped != b.Dropped || len(a.Rules) != len(b.Rules) {
			t.Fatalf("snapshot decides differently: %+v vs %+v", a, b)
		}
	})
}
