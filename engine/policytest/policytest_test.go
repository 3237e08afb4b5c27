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

// The storm features — rate caps, inhibition, groups, flap damping —
// on the virtual clock, with their own policy.
func TestStormFile(t *testing.T) {
	r := RunFile("testdata/storm_test.yaml", Options{})
	if r.Failed() {
		t.Fatalf("problems %v, tests %+v", r.Problems, r.Tests)
	}
	if len(r.Tests) != 4 || len(r.Uncovered) != 0 {
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
	for _, want := range []struct {
		i    int
		text string
	}{
		{0, "deliveries:\n      want: (none)\n      got:  pager trigger key=cmon/1 outcome=first rule=page (first)\n      unexpected: pager trigger"},
		{1, "deliveries:\n      want: pager\n      got:  (none)\n      missing: pager\n    suppressed:\n      want: (none)\n      got:  pager"},
		// why it was not sent
		{1, "not sent:\n      pager trigger rule=page: suppressed (suppressed until 2026-01-05T03:10:00Z (1 so far))"},
		{2, "dropped:\n      want: false\n      got:  true\n    matched:\n      want: rest\n      got:  noise"},
		{2, "\n    matched: noise (dropped)"},
	} {
		if !strings.Contains(f[want.i], want.text) {
			t.Errorf("failure %d lacks %q:\n%s", want.i, want.text, f[want.i])
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
		{"two events in a step", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - event: {severity: info}\n        cmon_file: x.json\n        expect: {}\n", "5:9 step"},
		{"no event", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - at: 1m\n        expect: {}\n", "5:9 step"},
		{"time goes back", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - {at: 5m, event: {}}\n      - {at: 1m, event: {}, expect: {}}\n", "6:14 step-order"},
		{"bad start", "policy: policy.yaml\nstart: yesterday\ntests:\n  - name: a\n    steps: [{event: {}, expect: {}}]\n", "2:8 start"},
		{"bad duration", "policy: policy.yaml\ntests:\n  - name: a\n    steps: [{at: soon, event: {}, expect: {}}]\n", "4:18 duration"},
		{"expect key typo", "policy: policy.yaml\ntests:\n  - name: a\n    steps: [{event: {}, expect: {deliverys: []}}]\n", "4:34 unknown-key"},
		{"duplicate test", "policy: policy.yaml\ntests:\n  - {name: a, steps: [{event: {}, expect: {}}]}\n  - {name: a, steps: [{event: {}, expect: {}}]}\n", "4:12 test-name"},
		{"checks nothing", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - event: {severity: critical}\n", "5:7 expect"},
		{"second document", "policy: policy.yaml\ntests: [{name: a, steps: [{event: {}, expect: {}}]}]\n---\ntests: [{name: b, steps: [{event: {}, expect: {}}]}]\n", "3:1 yaml"},
		{"pacemaker typo", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - pacemaker: {CRM_alert_kind: resource, CRM_alert_stauts: '1', NOTIFIER_CLUSTER: x}\n        expect: {}\n", "5:47 pacemaker"},
		{"pacemaker list value", "policy: policy.yaml\ntests:\n  - name: a\n    steps:\n      - pacemaker: {CRM_alert_kind: resource, CRM_alert_rc: [7]}\n        expect: {}\n", "5:61 type"},
		{"no tests", "policy: policy.yaml\n", "1:1 tests"},
		{"yaml indentation", "policy: policy.yaml\ntests:\n  - name: a\n    steps: []\n   expect: {}\n", "5:4 yaml"},
		{"yaml unclosed quote", "policy: policy.yaml\ntests:\n  - name: \"a\n    steps: []\n", "3:11 yaml"},
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
	os.WriteFile(path, []byte("policy: p.yaml\ntests:\n  - {name: a, steps: [{event: {}, expect: {}}]}\n"), 0o644)
	r := RunFile(path, Options{})
	if !r.PolicyBroken || !r.Failed() || len(r.Problems) == 0 || r.Problems[0].File != filepath.Join(dir, "p.yaml") {
		t.Errorf("%+v", r)
	}
	// A policy path that does not exist is the test file's problem.
	os.WriteFile(path, []byte("policy: nope.yaml\ntests:\n  - {name: a, steps: [{event: {}, expect: {}}]}\n"), 0o644)
	r = RunFile(path, Options{})
	if r.PolicyBroken || !r.Failed() || r.Problems[0].Line != 1 || r.Problems[0].Col != 9 {
		t.Errorf("%+v", r.Problems)
	}
}

// A rule with escalate and no notify tells nobody until the Nth
// occurrence, then escalates once.
func TestEscalateOnly(t *testing.T) {
	step := func(at string) string {
		return "      - at: " + at + "\n        event: {source: cmon, action: new, severity: warning, id: '5'}\n"
	}
	path := writePair(t, `channels:
  pager: {type: pagerduty}
rules:
  - name: flapping
    when: severity == "warning"
    escalate: {after: 3, within: 1h, notify: [pager]}
`, "policy: p.yaml\ntests:\n  - name: third pages\n    steps:\n"+
		step("0s")+"        expect: {}\n"+step("1m")+"        expect: {}\n"+
		step("2m")+"        expect: {deliveries: [{channel: pager, action: trigger, outcome: escalated}], escalated: [pager]}\n"+
		step("3m")+"        expect: {}\n")
	if r := RunFile(path, Options{}); r.Failed() {
		t.Fatalf("%v %+v", r.Problems, r.Tests)
	}
}

// writePair writes a policy p.yaml and a test file t.yaml beside it, and
// returns the test file's path.
func writePair(t *testing.T, policy, test string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(policy), 0o644)
	path := filepath.Join(dir, "t.yaml")
	os.WriteFile(path, []byte(test), 0o644)
	return path
}

// What a test author writes by hand behaves as the README says: a step
// without at is at the previous step's offset, an event may be a YAML
// alias, two hand-written Pacemaker alerts at one offset are one alert's
// invocations (one per recipient), and now() is the virtual clock.
func TestHandWritten(t *testing.T) {
	path := writeTest(t, `policy: policy.yaml
start: 2026-01-05T03:00:00Z
tests:
  - name: same offset without at
    steps:
      - at: 5m
        event: &crit {source: cmon, action: new, severity: critical, id: "1"}
        expect: {deliveries: [{channel: pager}]}
      - event: *crit
        expect: {suppressed: [pager]}
  - name: two recipients
    steps:
      - pacemaker: &fence {CRM_alert_kind: fencing, CRM_alert_node: db2, CRM_alert_task: reboot, CRM_alert_rc: "0", CRM_alert_desc: ok, CRM_alert_recipient: a}
        expect: {deliveries: [{channel: pager}]}
      - pacemaker: {CRM_alert_kind: fencing, CRM_alert_node: db2, CRM_alert_task: reboot, CRM_alert_rc: "0", CRM_alert_desc: ok, CRM_alert_recipient: b}
        expect: {duplicate: [pager]}
      - at: 20m
        pacemaker: *fence
        expect: {deliveries: [{channel: pager}]}
`)
	r := RunFile(path, Options{})
	if r.Failed() {
		t.Fatalf("%v\n%+v", r.Problems, r.Tests)
	}
}

func TestNowIsVirtual(t *testing.T) {
	path := writePair(t, `channels:
  log: {type: syslog}
rules:
  - name: night
    when: now().Hour() < 6 && now() == time && now().Year() == 2030 && now(timezone("Asia/Tokyo")).Hour() >= 14
    notify: [log]
`, `policy: p.yaml
start: 2030-03-01T05:00:00Z
tests:
  - name: night only
    steps:
      - event: {source: cmon, action: new, severity: info, id: "1"}
        expect: {deliveries: [{channel: log}]}
      - at: 2h
        event: {source: cmon, action: new, severity: info, id: "2"}
        expect: {}
`)
	r := RunFile(path, Options{})
	if r.Failed() {
		t.Fatalf("%v\n%+v", r.Problems, r.Tests)
	}
	// With every test filtered out, nothing is said about coverage.
	r = RunFile(path, Options{Filter: regexp.MustCompile("^nothing$")})
	if len(r.Uncovered) != 0 {
		t.Errorf("uncovered %v with no test run", r.Uncovered)
	}
}
