package engine

import (
	"fmt"
	"strings"
	"testing"

	"notifier/engine/event"
	"notifier/engine/policy"
)

// compileOne lints a single policy file named p.yaml: every check.
func compileOne(t *testing.T, src string) (*Policy, policy.Problems) {
	t.Helper()
	return Lint([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{})
}

// runLoads compiles a single policy file as a run does, and fails the
// test unless it loads without a problem.
func runLoads(t *testing.T, src string) *Policy {
	t.Helper()
	p, ps := Compile([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{})
	if p == nil || len(ps) != 0 {
		t.Fatalf("a run must load the policy without a problem: %v", ps)
	}
	return p
}

const channelsYAML = `
channels:
  pager: {type: pagerduty}
  ops: {type: slack}
  local: {type: syslog}
windows:
  business-hours: {timezone: Europe/Stockholm, weekdays: [mon-fri], times: ["09:00-17:00"]}
`

func TestCompileProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col check" of every error, in order
		msg  string   // a substring of the first error
	}{
		{"unknown top key", "rulez: []\n", []string{"1:1 unknown-key"}, `did you mean "rules"`},
		{"unknown rule key", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    notify: [pager]\n    colour: red\n", []string{"12:5 unknown-key"}, "rules[0].colour: unknown key"},
		{"duplicate key", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    when: 'false'\n    notify: [pager]\n", []string{"11:5 duplicate-key"}, "already defined at line 10"},
		{"wrong type", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    notify: pager\n", []string{"11:13 type"}, "want a list"},
		{"bool type", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    drop: yes please\n", []string{"11:11 type"}, "not true or false"},
		{"undefined channel", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    notify: [pager, loca]\n", []string{"11:21 undefined-channel"}, `did you mean "local"`},
		{"undefined window", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    notify: [pager]\n    muted_during: [nights]\n", []string{"12:20 undefined-window"}, `window "nights" is not defined`},
		{"expr plain", channelsYAML + "rules:\n  - name: a\n    when: severity == \"critical\" && clster == 1\n    notify: [pager]\n", []string{"10:37 expr"}, `unknown name clster, did you mean "cluster"?`},
		{"expr double quoted with escapes", channelsYAML + "rules:\n  - name: a\n    when: \"severity == \\\"critical\\\" && nod == 1\"\n    notify: [pager]\n", []string{"10:40 expr"}, "unknown name nod"},
		{"expr block", channelsYAML + "rules:\n  - name: a\n    when: |\n      severity == \"critical\"\n        && rank(\"crit\") > 1\n    notify: [pager]\n", []string{"12:17 expr"}, `rank("crit"): not a severity`},
		{"expr type error", channelsYAML + "rules:\n  - name: a\n    when: cluster_id == \"7\"\n    notify: [pager]\n", []string{"10:22 expr"}, "mismatched types"},
		{"expr not bool", channelsYAML + "rules:\n  - name: a\n    when: severity\n    notify: [pager]\n", []string{"10:11 expr"}, "bool"},
		{"in_window undefined", channelsYAML + "rules:\n  - name: a\n    when: in_window(\"busness-hours\")\n    notify: [pager]\n", []string{"10:21 undefined-window"}, `did you mean "business-hours"`},
		{"drop and notify", channelsYAML + "rules:\n  - name: a\n    when: 'true'\n    drop: true\n    notify: [pager]\n", []string{"11:11 drop-notify"}, "drop and notify"},
		{"missing when", channelsYAML + "rules:\n  - name: a\n    notify: [pager]\n", []string{"9:5 rule-when"}, "when is missing"},
		{"missing name", channelsYAML + "rules:\n  - when: 'true'\n    notify: [pager]\n", []string{"9:5 rule-name"}, "name is missing"},
		{"duplicate rule", channelsYAML + "rules:\n  - {name: a, when: 'true', notify: [pager], continue: true}\n  - {name: a, when: 'true', notify: [ops]}\n", []string{"10:12 duplicate-rule"}, `rule "a" already defined`},
		{"bad window", "windows:\n  w: {timezone: Mars/Base, weekdays: [mon, funday], times: [\"9-17\", \"22:00-06:00\", \"24:30-25:00\"]}\n", []string{"2:17 timezone", "2:44 weekday", "2:61 time-range", "2:84 time-range"}, "unknown time zone"},
		{"bad duration", "settings: {deadline: soon}\n", []string{"1:22 duration"}, "not a duration"},
		{"zero deadline", "settings: {deadline: 0m}\nrules: [{name: a, when: 'true', drop: true}]\n", []string{"1:22 deadline"}, "must be more than 0"},
		{"empty when", channelsYAML + "rules:\n  - name: a\n    when: \"\"\n    notify: [pager]\n", []string{"10:11 rule-when"}, "when is empty"},
		{"blank block when", channelsYAML + "rules:\n  - name: a\n    when: |\n\n    notify: [pager]\n", []string{"10:11 rule-when"}, "when is empty"},
		{"channel without type", "channels:\n  pager: {routing_key_file: /x}\n", []string{"2:3 channel-type"}, "type is missing"},
		{"yaml syntax", "rules:\n  - name: a\n   when: x\n", []string{"3:4 yaml"}, "YAML syntax"},
		{"not a mapping", "- a\n- b\n", []string{"1:1 type"}, "a policy file is a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ps := compileOne(t, tt.src)
			errs := ps.Errors()
			var got []string
			for _, e := range errs {
				got = append(got, fmt.Sprintf("%d:%d %s", e.Line, e.Col, e.Check))
			}
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Fatalf("errors = %v, want %v\n%v", got, tt.want, ps)
			}
			if p != nil {
				t.Errorf("policy returned despite errors")
			}
			if !strings.Contains(errs[0].Message, tt.msg) {
				t.Errorf("first error %q does not contain %q", errs[0].Error(), tt.msg)
			}
			if strings.Contains(errs[0].Error(), "\n") {
				t.Errorf("error spans lines: %q", errs[0].Error())
			}
		})
	}
}

func TestCompileDirectoryMerge(t *testing.T) {
	a := "settings: {deadline: 5s, cluster: {id: 7, name: prod}}\nchannels:\n  pager: {type: pagerduty}\nrules:\n  - {name: first, when: 'true', notify: [pager], continue: true}\n"
	b := "channels:\n  ops: {type: slack}\nrules:\n  - {name: second, when: 'true', notify: [ops]}\n"
	p, ps := Lint([]policy.Source{{Name: "a.yaml", Data: []byte(a)}, {Name: "b.yaml", Data: []byte(b)}}, policy.Options{})
	if p == nil {
		t.Fatal(ps)
	}
	if len(p.Rules) != 2 || p.Rules[0].Name != "first" || p.Rules[1].Name != "second" {
		t.Errorf("rules not concatenated in file order: %+v", p.Rules)
	}
	if p.Settings.Deadline.String() != "5s" || p.Settings.Cluster != (event.ClusterDefaults{ID: 7, Name: "prod"}) {
		t.Errorf("settings = %+v", p.Settings)
	}
	_, ps = Lint([]policy.Source{{Name: "a.yaml", Data: []byte(a)}, {Name: "c.yaml", Data: []byte("settings: {deadline: 3s}\nchannels:\n  pager: {type: syslog}\n")}}, policy.Options{})
	got := ps.Error()
	for _, want := range []string{"c.yaml:1:1: settings: already given at a.yaml:1", "c.yaml:3:3: channels.pager: already defined at a.yaml:3"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestCompileCollectsEveryProblem(t *testing.T) {
	src := channelsYAML + "rules:\n  - {name: a, when: 'nope ==', notify: [x]}\n  - {name: b, when: 'true', notify: [y], bogus: 1}\n"
	_, ps := compileOne(t, src)
	if n := len(ps.Errors()); n != 4 {
		t.Fatalf("want 4 errors (expr, undefined x, unknown key, undefined y), got %d:\n%v", n, ps)
	}
}

func TestEmptyAndWarnings(t *testing.T) {
	for _, src := range []string{"", "# all commented out\n", channelsYAML} {
		p, ps := compileOne(t, src)
		if errs := ps.Errors(); p != nil || len(errs) != 1 || errs[0].Check != "no-rules" {
			t.Fatalf("a policy without rules must not load: %v %v", p, ps)
		}
	}
	p, ps := compileOne(t, channelsYAML+"settings: {deadline: 45s}\nrules:\n  - {name: quiet, when: 'true'}\n")
	if p == nil {
		t.Fatal(ps)
	}
	var checks []string
	for _, w := range ps {
		checks = append(checks, w.Severity+" "+w.Check)
	}
	if strings.Join(checks, ",") != "warning unused-channel,warning unused-channel,warning unused-channel,warning unused-window,warning deadline,warning notifies-nobody" {
		t.Errorf("warnings = %v", checks)
	}
}

func TestSuppressEscalateChecks(t *testing.T) {
	src := channelsYAML + `rules:
  - name: a
    when: 'true'
    notify: [pager]
    suppress: {for: 0s, key: 'cluster_id'}
    escalate: {after: 1, within: 0s, notify: [pagr]}
`
	_, ps := compileOne(t, src)
	var got []string
	for _, p := range ps.Errors() {
		got = append(got, fmt.Sprintf("%d:%d %s", p.Line, p.Col, p.Check))
	}
	want := "12:21 suppress, 12:30 expr, 13:23 escalate-after, 13:34 escalate-within, 13:47 undefined-channel"
	if strings.Join(got, ", ") != want {
		t.Errorf("got %s\nwant %s\n%v", strings.Join(got, ", "), want, ps)
	}
}

// Relative state and audit paths are the policy file's, like *_file
// options: runs started in different directories share one state.
func TestRelativePathsFollowThePolicy(t *testing.T) {
	src := "settings:\n  state: {path: state/notifier.db}\n  audit_log: audit.jsonl\nchannels:\n  l: {type: syslog}\nrules:\n  - {name: a, when: 'true', notify: [l]}\n"
	p, ps := Lint([]policy.Source{{Name: "/etc/notifier/team/policy.yaml", Data: []byte(src)}}, policy.Options{})
	if p == nil {
		t.Fatal(ps)
	}
	if p.Settings.StatePath != "/etc/notifier/team/state/notifier.db" || p.Settings.AuditLog != "/etc/notifier/team/audit.jsonl" {
		t.Errorf("state %q, audit %q", p.Settings.StatePath, p.Settings.AuditLog)
	}
	src = strings.Replace(src, "state/notifier.db", "/var/lib/x.db", 1)
	if p, _ := Lint([]policy.Source{{Name: "/etc/p.yaml", Data: []byte(src)}}, policy.Options{}); p.Settings.StatePath != "/var/lib/x.db" {
		t.Errorf("absolute path changed: %q", p.Settings.StatePath)
	}
}

// Anchors, aliases and merge keys load as the YAML they stand for: a
// channel given as an alias is defined, a merged rule has the base's keys
// unless it sets them itself.
func TestAliasesAndMergeKeys(t *testing.T) {
	src := `channels:
  pager: &p {type: pagerduty}
  pager2: *p
  local: {type: syslog}
rules:
  - &page {name: critical, when: severity == "critical", notify: [pager, pager2], suppress: {for: 30m}, continue: true}
  - <<: *page
    name: fencing
    when: kind == "fencing"
    suppress: {for: 5m}
  - <<: [{notify: [local]}, *page]
    name: rest
    when: "true"
`
	p, ps := Lint([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{})
	if p == nil {
		t.Fatal(ps)
	}
	if _, ok := p.Channels["pager2"]; !ok {
		t.Errorf("channel given as an alias is missing")
	}
	got := func(r *Rule) string {
		return fmt.Sprintf("%s %v %s %v", r.Name, r.Notify, r.Suppress.For, r.Continue)
	}
	for i, want := range []string{"critical [pager pager2] 30m0s true", "fencing [pager pager2] 5m0s true", "rest [local] 30m0s true"} {
		if g := got(p.Rules[i]); g != want {
			t.Errorf("rule %d: %s, want %s", i, g, want)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		src += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	_, ps := Lint([]policy.Source{{Name: "bomb.yaml", Data: []byte(src)}}, policy.Options{})
	if len(ps) != 1 || ps[0].Check != "yaml" || !strings.Contains(ps[0].Message, "aliases expand") {
		t.Errorf("got %v", ps)
	}
}

// Checks newer than the policies in production fail lint but never stop
// a policy from loading: after an upgrade it runs as it ran before.
func TestLateErrorsStillLoad(t *testing.T) {
	src := `settings: {deadline: 500ms}
windows:
  all: {}
channels:
  l: {type: syslog}
rules:
  - {name: text, when: 'severity > "info"', notify: [l], continue: true}
  - {name: never, when: 'severity == "critical" && severity == "info"', notify: [l], continue: true}
  - {name: muted, when: 'true', notify: [l], muted_during: [all], continue: true}
  - {name: constant, when: 'duration("5") > duration("1m") || in_window("a" + "ll")', notify: [l], continue: true}
  - {name: catch-all, when: 'rank(severity) <= 3', notify: [l]}
  - {name: after, when: 'true', notify: [l]}
`
	p, ps := Lint([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{})
	var checks []string
	for _, e := range ps.Errors() {
		checks = append(checks, e.Check)
	}
	if p == nil {
		t.Fatalf("lint says it does not load: %v", ps)
	}
	if want := "[deadline text-order never-matches always-muted fails-always unreachable-rule]"; fmt.Sprint(checks) != want {
		t.Errorf("errors %v, want %s", checks, want)
	}
	p = runLoads(t, src)
	d := p.Evaluate(&event.Event{Severity: "warning", Action: "new"})
	if got := fmt.Sprint(d.Matched()); got != "[text muted catch-all]" {
		t.Errorf("matched %s: the policy must run as written", got)
	}
	// A late error beside a real one: the real one is said, and blocks.
	src = strings.Replace(src, `'severity > "info"'`, `'severity > "info" && clustr == "prod"'`, 1)
	p, ps = Compile([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{})
	if p != nil || len(ps.Errors()) != 1 || !strings.Contains(ps.Errors()[0].Message, "unknown name clustr") {
		t.Errorf("a typo beside a late error must block: %v", ps)
	}
	if p, _ = Lint([]policy.Source{{Name: "p.yaml", Data: []byte(src)}}, policy.Options{}); p != nil {
		t.Error("lint must agree with the run: the policy does not load")
	}
}

// TestYAMLSyntaxAtFault: yaml.v3 names the line where the enclosing block
// began (counted from 0 for parser errors); the error is placed at the
// fault, as other YAML parsers do.
func TestYAMLSyntaxAtFault(t *testing.T) {
	for name, tc := range map[string]struct{ src, want, msg string }{
		"sequence item indented less": {"rules:\n  - name: a\n    when: \"true\"\n   notify: [x]\n", "4:4", "did not find expected '-' indicator"},
		"mapping key indented less":   {"channels:\n  local:\n    type: syslog\n   tag: x\nrules: []\n", "4:4", "did not find expected key"},
		"mapping key indented more":   {"rules:\n  - name: a\n    when: \"true\"\n  - name: b\n     when: \"true\"\n", "5:6", "mapping values are not allowed"},
		"tab indentation":             {"rules:\n  - name: a\n\twhen: \"true\"\n", "3:1", "tab character"},
		"unclosed double quote":       {"rules:\n  - name: a\n    when: \"true\n    notify: [x]\n", "3:11", "this quote is never closed"},
		"unclosed single quote":       {"rules:\n  - name: a\n    when: 'true\n    notify: [x]\n", "3:11", "this quote is never closed"},
		"unclosed flow list":          {"rules:\n  - name: a\n    when: \"true\"\n    notify: [x, y\n  - name: b\n", "4:13", "did not find expected ',' or ']'"},
		"CRLF line ends":              {"rules:\r\n  - name: a\r\n    when: \"true\"\r\n   notify: [x]\r\n", "4:4", "did not find expected '-' indicator"},
	} {
		t.Run(name, func(t *testing.T) {
			_, ps := compileOne(t, tc.src)
			if len(ps) != 1 || ps[0].Check != "yaml" {
				t.Fatalf("problems = %v, want one yaml error", ps)
			}
			if got := fmt.Sprintf("%d:%d", ps[0].Line, ps[0].Col); got != tc.want || !strings.Contains(ps[0].Message, tc.msg) {
				t.Errorf("got %s %q, want %s and %q", got, ps[0].Message, tc.want, tc.msg)
			}
		})
	}
}

// TestEmptyNotifyAtTheList: an explicit empty notify list is reported at
// the list, saying it is empty; a rule with no notify at all at its name.
func TestEmptyNotifyAtTheList(t *testing.T) {
	for name, tc := range map[string]struct{ rule, want, msg string }{
		"notify: []":          {"  - name: a\n    when: 'true'\n    notify: []\n", "11:13 warning notifies-nobody", "notify is empty"},
		"no notify":           {"  - name: a\n    when: 'true'\n", "9:5 warning notifies-nobody", "add notify"},
		"escalate.notify: []": {"  - name: a\n    when: 'true'\n    notify: [pager]\n    escalate: {after: 2, within: 1h, notify: []}\n", "12:46 error escalate-notify", "escalate.notify is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, ps := compileOne(t, channelsYAML+"rules:\n"+tc.rule)
			var got, msgs []string
			for _, p := range ps {
				if p.Check != "unused-channel" && p.Check != "unused-window" {
					got = append(got, fmt.Sprintf("%d:%d %s %s", p.Line, p.Col, p.Severity, p.Check))
					msgs = append(msgs, p.Message)
				}
			}
			if strings.Join(got, ",") != tc.want || !strings.Contains(strings.Join(msgs, "|"), tc.msg) {
				t.Errorf("got %v %v, want %s and %q", got, ps, tc.want, tc.msg)
			}
		})
	}
}

// TestYAMLSyntaxAtFaultLongFile: past the linear search, the binary one
// finds the fault too.
func TestYAMLSyntaxAtFaultLongFile(t *testing.T) {
	src := channelsYAML + "rules:\n"
	for i := range 200 {
		src += fmt.Sprintf("  - name: r%d\n    when: 'true'\n    notify: [pager]\n    continue: true\n", i)
	}
	bad := strings.Count(src, "\n") + 3
	src += "  - name: bad\n    when: 'true'\n   notify: [pager]\n  - name: after\n    when: 'true'\n    notify: [pager]\n"
	_, ps := compileOne(t, src)
	if len(ps) != 1 || ps[0].Line != bad || ps[0].Col != 4 {
		t.Errorf("problems = %v, want one at %d:4", ps, bad)
	}
}
