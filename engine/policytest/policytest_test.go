package policytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeTest writes a test file beside a copy of testdata/policy.yaml.
func writeTest(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	pol, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "policy.yaml"), pol, 0o644)
	path := filepath.Join(dir, "t_test.yaml")
	os.WriteFile(path, []byte(src), 0o644)
	return path
}

func TestGoodFile(t *testing.T) {
	r := RunFile("testdata/good_test.yaml", Options{})
	if r.Failed() {
		t.Fatalf("problems %v, tests %+v", r.Problems, r.Tests)
	}
	if len(r.Tests) != 3 || len(r.Uncovered) != 0 {
		t.Errorf("tests %d, uncovered %v", len(r.Tests), r.Uncovered)
	}
}

// A wrong expectation fails, at the step, with what was expected and
// what happened.
func TestFailureShowsWantAndGot(t *testing.T) {
	path := writeTest(t, `policy: policy.yaml
tests:
  - name: wrong
    steps:
      - event: {source: cmon, action: new, severity: critical, id: "1"}
        expect: {}
      - at: 1m
        event: {source: cmon, action: new, severity: critical, id: "1"}
        expect: {deliveries: [{channel: pager}]}
      - at: 2m
        event: {source: cmon, action: new, severity: info, event_type: noise, id: "9"}
        expect: {matched: [rest]}
`)
	r := RunFile(path, Options{})
	if !r.Failed() || len(r.Tests) != 1 {
		t.Fatalf("want a failure: %+v", r)
	}
	f := r.Tests[0].Failures
	if len(f) != 3 {
		t.Fatalf("want 3 failing steps, got %d:\n%s", len(f), strings.Join(f, "\n"))
	}
	for i, want := range []string{
		path + ":5:9: step 1 at +0s (",
		path + ":7:9: step 2 at +1m0s (",
		path + ":10:9: step 3 at +2m0s (",
	} {
		if !strings.HasPrefix(f[i], want) {
			t.Errorf("failure %d does not start with %q:\n%s", i, want, f[i])
		}
	}
	for i, want := range []string{
		"deliveries:\n      want: (none)\n      got:  pager trigger key=cmon/1 outcome=first rule=page (first)\n      unexpected: pager trigger",
		"deliveries:\n      want: pager\n      got:  (none)\n      missing: pager\n    suppressed:\n      want: (none)\n      got:  pager",
		"dropped:\n      want: false\n      got:  true\n    matched:\n      want: rest\n      got:  noise",
	} {
		if !strings.Contains(f[i], want) {
			t.Errorf("failure %d lacks %q:\n%s", i, want, f[i])
		}
	}
}

func TestFilterAndCoverage(t *testing.T) {
	r := RunFile("testdata/good_test.yaml", Options{Filter: regexp.MustCompile("^dropped$")})
	var ran []string
	for _, tr := range r.Tests {
		if !tr.Skipped {
			ran = append(ran, tr.Name)
		}
	}
	if fmt.Sprint(ran) != "[dropped]" {
		t.Errorf("ran %v", ran)
	}
	if fmt.Sprint(r.Uncovered) != "[page chat]" {
		t.Errorf("uncovered %v, want [page chat]", r.Uncovered)
	}
}

func TestInlineSources(t *testing.T) {
	path := writeTest(t, `policy: policy.yaml
host: ctl1
tests:
  - name: inline
    steps:
      - pacemaker: {CRM_alert_kind: node, CRM_alert_node: db2, CRM_alert_desc: lost, CRM_alert_version: 2.1.5}
        expect: {deliveries: [{channel: pager, action: trigger, key: pacemaker/default/node/db2}]}
      - cmon: {class: Network, alarm_id: 7, cid: 3, severity: ALARM_WARNING, type_name: HostUnreachable, title: down, message: x, hostname: db3}
        expect: {deliveries: [{channel: chat, action: message, key: cmon/ctl1/3/7}]}
      - cmon: '{"alarm_id": 8, "cid": 3, "severity": "ALARM_CRITICAL", "title": "t", "message": "m"}'
        expect: {deliveries: [{channel: pager, action: trigger, key: cmon/ctl1/3/8}]}
`)
	r := RunFile(path, Options{})
	if r.Failed() {
		t.Fatalf("%v\n%+v", r.Problems, r.Tests)
	}
}

func TestBrokenFiles(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // "line:col check" of each error
	}{
		{"unknown key", "policy: policy.yaml\ntests:\n  - name: a\n    stepz: []\n", "4:5 unknown-key, 3:5 steps"},
		{"two events in a step", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - event: {severity: info}\n        cmon_file: x.json\n", "5:9 step"},
		{"no event", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - at: 1m\n        expect: {}\n", "5:9 step"},
		{"time goes back", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - {at: 5m, event: {}}\n      - {at: 1m, event: {}}\n", "6:14 step-order"},
		{"bad start", "policy: policy.yaml\nstart: yesterday\ntests:\n  - name: a\n    steps: [{event: {}}]\n", "2:8 start"},
		{"bad duration", "policy: policy.yaml\ntests:\n  - name: a\n    steps: [{at: soon, event: {}}]\n", "4:18 duration"},
		{"expect key typo", "policy: policy.yaml\ntests:\n  - name: a\n    steps: [{event: {}, expect: {deliverys: []}}]\n", "4:34 unknown-key"},
		{"duplicate test", "policy: policy.yaml\ntests:\n  - {name: a, steps: [{event: {}}]}\n  - {name: a, steps: [{event: {}}]}\n", "4:12 test-name"},
		{"no tests", "policy: policy.yaml\n", "1:1 tests"},
		{"empty expect", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - event: {}\n        expect:\n", "6:16 expect"},
		{"delivery without channel", "policy: policy.yaml\ntests:\n  - name: a\n    steps: [{event: {}, expect: {deliveries: [{action: trigger}]}}]\n", "4:13 expect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RunFile(writeTest(t, tt.src), Options{})
			var got []string
			for _, p := range r.Problems.Errors() {
				got = append(got, fmt.Sprintf("%d:%d %s", p.Line, p.Col, p.Check))
				if strings.Contains(p.Message, "\n") {
					t.Errorf("message spans lines: %q", p.Message)
				}
			}
			if strings.Join(got, ", ") != tt.want || r.PolicyBroken || len(r.Tests) != 0 {
				t.Errorf("got %v (policy broken %v, %d tests), want %s\n%v", got, r.PolicyBroken, len(r.Tests), tt.want, r.Problems)
			}
		})
	}
}

func TestBrokenPolicy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules:\n  - {name: a, when: 'nope ==', notify: [x]}\n"), 0o644)
	path := filepath.Join(dir, "t.yaml")
	os.WriteFile(path, []byte("policy: p.yaml\ntests:\n  - {name: a, steps: [{event: {}}]}\n"), 0o644)
	r := RunFile(path, Options{})
	if !r.PolicyBroken || !r.Failed() || len(r.Problems) == 0 || r.Problems[0].File != filepath.Join(dir, "p.yaml") {
		t.Errorf("%+v", r)
	}
	// A policy path that does not exist is the test file's problem.
	os.WriteFile(path, []byte("policy: nope.yaml\ntests:\n  - {name: a, steps: [{event: {}}]}\n"), 0o644)
	r = RunFile(path, Options{})
	if r.PolicyBroken || !r.Failed() || r.Problems[0].Line != 1 || r.Problems[0].Col != 9 {
		t.Errorf("%+v", r.Problems)
	}
}

// A rule with escalate and no notify tells nobody until the Nth
// occurrence, then escalates once.
func TestEscalateOnly(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(`channels:
  pager: {type: pagerduty}
rules:
  - name: flapping
    when: severity == "warning"
    escalate: {after: 3, within: 1h, notify: [pager]}
`), 0o644)
	path := filepath.Join(dir, "t.yaml")
	step := func(at string) string {
		return "      - at: " + at + "\n        event: {source: cmon, action: new, severity: warning, id: '5'}\n"
	}
	os.WriteFile(path, []byte("policy: p.yaml\ntests:\n  - name: third pages\n    steps:\n"+
		step("0s")+"        expect: {}\n"+step("1m")+"        expect: {}\n"+
		step("2m")+"        expect: {deliveries: [{channel: pager, action: trigger, outcome: escalated}], escalated: [pager]}\n"+
		step("3m")+"        expect: {}\n"), 0o644)
	r := RunFile(path, Options{})
	if r.Failed() {
		t.Fatalf("%v %+v", r.Problems, r.Tests)
	}
}
