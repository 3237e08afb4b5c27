package template

import (
	"testing"
)

// FuzzTemplate: whatever the text, Compile and Render return (no panic,
// no hang: Go's fuzzer fails an input that runs for long), a render
// never exceeds MaxOutput nor MaxWork.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`{{ .severity | upper }} on {{ .node }}`,
		`{{ range .members }}{{ .node }}{{ range .fields }}{{ . }}{{ end }}{{ end }}`,
		`{{ range 1000000000 }}x{{ end }}`,
		`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`,
		`{{ printf "%256s" .message | html | js | urlquery }}`,
		`{{ $x := .summary }}{{ $x = print $x $x }}{{ json $x }}`,
		`{{ humanize .count }} {{ inzone "UTC" .time | date "2006" }} {{ default "x" .rsc }} {{ join "," .members }}`,
		`{{ with $m := index .members 0 }}{{ $m.fields.host }}{{ end }}`,
		`{{ if and .ok (eq .severity "critical") }}{{ truncate 5 .name }}{{ else }}{{ len .fields }}{{ end }}`,
		`{{ $x := printf "%256s" "x" }}{{ $x = print $x $x $x $x $x $x $x $x }}{{ range .fields }}{{ $x = upper $x }}{{ range $.members }}{{ end }}{{ end }}`,
	} {
		f.Add(s)
	}
	data := sample()
	f.Fuzz(func(t *testing.T, text string) {
		tp, err := Compile("fuzz", text, eventNames)
		if err != nil {
			if ps, ok := err.(Problems); ok {
				for _, p := range ps {
					if p.Offset < 0 || p.Offset > len(text) {
						t.Fatalf("offset %d outside the text (%d bytes)", p.Offset, len(text))
					}
				}
			}
			return
		}
		out, steps, err := tp.render(data, newBudget())
		// A render that spent past its budget must have stopped with the
		// budget's error, whatever the text made it do.
		if len(out) > MaxOutput || (err != nil && out != "") || (steps > MaxWork && !IsOverBudget(err)) {
			t.Fatalf("%d bytes, %d steps, %v", len(out), steps, err)
		}
	})
}
