package template

import (
	"fmt"
	"maps"
	"strings"
	"syscall"
	"testing"
	gotemplate "text/template"
	"time"
)

// pathological is the reviewer's template: 16 KiB that builds a 64 KiB
// $x, then upper-cases it again and again in a range over the fields.
func pathological() string {
	var b strings.Builder
	b.WriteString(`{{ $x := printf "%256s" "x" }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $x = print $x $x $x $x $x $x $x $x }}`)
	b.WriteString(`{{ $x = print $x $x $x $x }}{{ $y := "" }}{{ range .fields }}`)
	for b.Len() < MaxText-40 {
		b.WriteString(`{{ $y = upper $x }}`)
	}
	b.WriteString(`{{ end }}{{ len $y }}`)
	return b.String()
}

// withFields is sample with n raw fields.
func withFields(n int) map[string]any {
	data := sample()
	f := map[string]string{}
	for i := range n {
		f[fmt.Sprintf("field%04d", i)] = "value"
	}
	data["fields"] = f
	return data
}

// digest is sample with n members of a few fields each.
func digest(n int) map[string]any {
	data := sample()
	one := data[Members].([]map[string]any)[0]
	members := make([]map[string]any, n)
	for i := range members {
		m := maps.Clone(one)
		m["node"] = fmt.Sprintf("db%d", i)
		m["fields"] = map[string]string{"alarm_id": fmt.Sprint(i), "host": fmt.Sprintf("db%d", i), "port": "3306"}
		members[i] = m
	}
	data[Members] = members
	return data
}

// stepsOnly is a budget of steps only, without the clock's backstop: what
// a render takes is then the same on a loaded machine or with -race.
func stepsOnly() *budget {
	b := newBudget()
	b.deadline = time.Time{}
	return b
}

// cpu is the process's CPU time so far, for the logs (never asserted).
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The reviewer's template fails with the budget's error whatever the
// number of fields (it took 0.2 s, 7 s and 72 s before the budget).
func TestBudgetStopsPathological(t *testing.T) {
	tp, err := Compile("t", pathological(), eventNames)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 100, 1000} {
		c0 := cpu()
		out, steps, err := tp.render(withFields(n), stepsOnly())
		t.Logf("%d fields: %v CPU, %d steps: %v", n, cpu()-c0, steps, err)
		if !IsOverBudget(err) || out != "" || !strings.HasPrefix(err.Error(), fmt.Sprintf("template exceeds its work budget of %d steps", MaxWork)) {
			t.Errorf("%d fields: %q, %v; want the budget's error", n, out, err)
		}
		var re *RenderError
		if !asRenderError(err, &re) || re.Offset <= 0 || re.Offset > len(tp.Text()) {
			t.Errorf("%d fields: %#v, want a RenderError placed in the text", n, err)
		}
	}
}

func asRenderError(err error, re **RenderError) bool {
	e, ok := err.(*RenderError)
	*re = e
	return ok
}

// Whatever a template spends its work on, the budget stops it: each
// body is repeated to fill MaxText, in a range over 1,000 fields.
func TestBudgetStopsEveryKindOfWork(t *testing.T) {
	const big = `{{ $x := printf "%256s" "x" }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ $y := "" }}{{ $z := print $x }}`
	fill := func(head, body, tail string) string {
		var b strings.Builder
		b.WriteString(head)
		for b.Len()+len(body)+len(tail) < MaxText {
			b.WriteString(body)
		}
		return b.String() + tail
	}
	data := withFields(1000)
	for _, body := range []string{
		`{{ $y = upper $x }}`, `{{ $y = lower $x }}`, `{{ $y = truncate 70000 $x }}`, `{{ $y = default "" $x }}`,
		`{{ $y = $x }}`, `{{ $y = $.fields.field0001 }}`, `{{ "" }}`, `{{ range $.fields }}{{ end }}`,
		`{{ $y = eq $x $z }}`, `{{ $y = lt $x $z }}`, `{{ $y = index $.fields $x }}`,
		`{{ $y = print $.fields }}`, `{{ $y = json $.fields }}`, `{{ $y = html $x }}`, `{{ $y = printf "%s" $x }}`,
		`{{ $y = date $x $.time }}`, `{{ $y = join $x $.members }}`,
	} {
		text := fill(big+`{{ range .fields }}`, body, `{{ end }}`)
		if strings.Contains(body, "range") {
			text = fill(big, body, "")
		}
		tp, err := Compile("t", text, eventNames)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		c0 := cpu()
		_, steps, err := tp.render(data, stepsOnly())
		t.Logf("%-34s %10v CPU, %d steps", body, cpu()-c0, steps)
		if !IsOverBudget(err) {
			t.Errorf("%s: %v, want the budget's error", body, err)
		}
	}
}

// A digest of 1,000 members with a few fields each fits, with room.
func TestBudgetFitsDigest(t *testing.T) {
	for _, text := range []string{
		`{{ range .members }}{{ .node }} {{ .severity | upper }} {{ truncate 20 .message }}{{ range $k, $v := .fields }} {{ $k }}={{ $v }}{{ end }}` + "\n" + `{{ end }}`,
		`{{ len .members }} down: {{ range $i, $m := .members }}{{ if $i }}, {{ end }}{{ $m.node }}{{ if eq $m.severity "critical" }}!{{ end }} ({{ index $m.fields "host" }}:{{ $m.fields.port }}){{ end }}`,
	} {
		tp, err := Compile("t", text, eventNames)
		if err != nil {
			t.Fatal(err)
		}
		c0 := cpu()
		out, steps, err := tp.render(digest(1000), stepsOnly())
		t.Logf("%.40s...: %v CPU, %d steps, %d bytes", text, cpu()-c0, steps, len(out))
		if err != nil || steps > MaxWork/2 {
			t.Errorf("%.40s...: %d steps (of %d), %v", text, steps, MaxWork, err)
		}
	}
}

// The budget's clock stops a render too (a backstop).
func TestBudgetDeadline(t *testing.T) {
	b := newBudget()
	b.deadline = time.Now().Add(-time.Second)
	var err error
	for i := 0; err == nil && i < MaxWork; i++ {
		err = b.spend(1)
	}
	if !IsOverBudget(err) || !strings.Contains(err.Error(), "ran for over") {
		t.Errorf("past the deadline: %v", err)
	}
	if err := b.spend(0); !IsOverBudget(err) {
		t.Errorf("a spent budget stays spent: %v", err)
	}
}

// The comparisons and index behave as text/template's builtins, results
// and errors alike.
func TestBuiltinsAsGo(t *testing.T) {
	values := []string{`1`, `2`, `-1`, `1.5`, `"a"`, `"b"`, `""`, `true`, `false`, `nil`, `.count`, `.ok`, `.node`,
		`.fields`, `.members`, `.time`, `.fields.host`, `.fields.nothing`, `.nothing`, `.u`, `.f`, `.c`, `.p`, `.s`}
	data := sample()
	data["u"], data["f"], data["c"], data["p"], data["s"] = uint(1), float32(1), 1i, (*int)(nil), []string{"x"}
	var texts []string
	for _, f := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
		for _, a := range values {
			for _, b := range values {
				texts = append(texts, fmt.Sprintf(`{{ %s %s %s }}`, f, a, b))
			}
		}
	}
	texts = append(texts, `{{ eq 1 2 1 }}`, `{{ eq "a" "b" "c" }}`, `{{ eq .count }}`, `{{ 1 | eq 1 }}`)
	for _, item := range []string{".fields", ".members", ".node", ".s", ".p", "nil", ".count"} {
		for _, i := range values {
			texts = append(texts, fmt.Sprintf(`{{ index %s %s }}`, item, i))
		}
	}
	texts = append(texts, `{{ index .members 0 "node" }}`, `{{ index .members 0 "fields" "host" }}`, `{{ index .s }}`)
	for _, text := range texts {
		want, wantErr := executeGo(text, data)
		tp, err := gotemplate.New("t").Funcs(funcs(newBudget())).Option("missingkey=zero").Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		gotErr := tp.Execute(&b, data)
		if b.String() != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: %q, %v; text/template's: %q, %v", text, b.String(), gotErr, want, wantErr)
		}
	}
}

func executeGo(text string, data map[string]any) (string, error) {
	tp := gotemplate.Must(gotemplate.New("t").Option("missingkey=zero").Parse(text))
	var b strings.Builder
	err := tp.Execute(&b, data)
	return b.String(), err
}

// What instrument adds changes nothing a template renders, ranges and
// their variables, break and continue and else included.
func TestInstrumentKeepsMeaning(t *testing.T) {
	data := digest(3)
	data[RawFields] = map[string]string{}
	for _, text := range []string{
		`{{ range $i, $m := .members }}{{ $i }}={{ $m.node }}{{ range $k, $v := .fields }}[{{ $k }} {{ $v }}]{{ end }};{{ end }}`,
		`{{ range .members }}{{ if eq .node "db1" }}{{ continue }}{{ end }}{{ if eq .node "db2" }}{{ break }}{{ end }}{{ .node }}{{ end }}`,
		`{{ range $v := (index .members 0).fields }}{{ $v }}{{ else }}none{{ end }}|{{ range .fields }}x{{ else }}none{{ end }}`,
		`{{ $m := index .members 0 }}{{ range $m = .members }}{{ end }}{{ $m.node }}`,
	} {
		tp, err := Compile("t", text, eventNames)
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		got, err := tp.Render(data)
		want, wantErr := executeGo(text, data)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("%s:\n got %q, %v\nwant %q, %v", text, got, err, want, wantErr)
		}
	}
}

// BenchmarkPathological is the reviewer's template's cost with the
// budget (before it: 0.2 s, 7 s and 72 s, by the reviewer's account).
func BenchmarkPathological(b *testing.B) {
	tp, err := Compile("t", pathological(), eventNames)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{3, 100, 1000} {
		data := withFields(n)
		b.Run(fmt.Sprintf("fields=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := tp.Render(data); !IsOverBudget(err) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDigest is a digest of 1,000 members' cost.
func BenchmarkDigest(b *testing.B) {
	tp, err := Compile("t", `{{ range .members }}{{ .node }} {{ .severity | upper }} {{ truncate 20 .message }}{{ range $k, $v := .fields }} {{ $k }}={{ $v }}{{ end }}`+"\n"+`{{ end }}`, eventNames)
	if err != nil {
		b.Fatal(err)
	}
	data := digest(1000)
	for b.Loop() {
		if _, err := tp.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}

// The README's examples render, each well within the budget.
func TestBudgetFitsReadmeExamples(t *testing.T) {
	for text, want := range map[string]string{
		`{{ .severity | upper }} {{ .event_type }} on {{ .node }} ({{ default "cluster 1" .cluster }})`: "CRITICAL MySqlDisconnected on db1 (prod-db)",
		`{{ .node }}: MySQL down, see https://runbooks.example/db ({{ .suppressed }} held back)`:        "db1: MySQL down, see https://runbooks.example/db (2 held back)",
		`{{ if eq .delivery "resolve" }}ok{{ else }}{{ truncate 20 .message }}{{ end }}`:                `said "no" <now>`,
		`{{ $names := slice .members 0 }}{{ range $names }}{{ .node }}{{ end }} {{ humanize 90061 }}`:   "db1 1d 1h 1m 1s",
		`{{ inzone "Europe/Paris" .time | date "Mon 15:04 MST" }}`:                                      "Sun 15:05 CET",
		`{"node": {{ json .node }}}`: `{"node": "db1"}`,
	} {
		tp, err := Compile("t", text, eventNames)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, steps, err := tp.render(sample(), stepsOnly())
		if err != nil || got != want || steps > MaxWork/100 {
			t.Errorf("%s: %q, %d steps, %v; want %q", text, got, steps, err, want)
		}
	}
}

// BenchmarkSummary is what a typical template costs a delivery: a
// PagerDuty summary of the README's kind.
func BenchmarkSummary(b *testing.B) {
	tp, err := Compile("t", `{{ .severity | upper }} {{ .event_type }} on {{ .node }} ({{ default "cluster 1" .cluster }})`, eventNames)
	if err != nil {
		b.Fatal(err)
	}
	data := sample()
	for b.Loop() {
		if _, err := tp.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}
