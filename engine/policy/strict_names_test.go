package policy

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDecodeNodeMaps: a map option (a channel's custom_details) takes
// any names as keys, decodes each value strictly, and reports a key
// given twice, a key that is not a name and a value of the wrong type at
// their line and column, all of them.
func TestDecodeNodeMapsByName(t *testing.T) {
	type cfg struct {
		Details map[string]string          `yaml:"details"`
		Limits  map[string]int             `yaml:"limits"`
		Nested  map[string]struct{ A int } `yaml:"nested"`
	}
	decode := func(t *testing.T, src string) (cfg, Problems) {
		t.Helper()
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		var c cfg
		ps := DecodeNode("p.yaml", doc.Content[0], &c)
		return c, ps
	}

	c, ps := decode(t, "details:\n  runbook: \"https://wiki/{{ .event_type }}\"\n  Owner Team: dba\n  1: one\nlimits: {a: 1}\nnested: {x: {a: 2}}\n")
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	want := cfg{
		Details: map[string]string{"runbook": "https://wiki/{{ .event_type }}", "Owner Team": "dba", "1": "one"},
		Limits:  map[string]int{"a": 1},
		Nested:  map[string]struct{ A int }{"x": {A: 2}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("decoded %+v\nwant %+v", c, want)
	}

	_, ps = decode(t, "details:\n  a: x\n  a: y\n  ~: z\n  b: [1]\n  c: {d: e}\nlimits: {n: ten}\nnested: {x: {b: 1}}\n")
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = p.Error() + " [" + p.Check + "]"
	}
	wantPs := []string{
		`p.yaml:3:3: details.a: key "a" already defined at line 2 [duplicate-key]`,
		`p.yaml:4:3: details: want a name as the key, got empty [type]`,
		`p.yaml:5:6: details.b: want a string, got a list [type]`,
		`p.yaml:6:6: details.c: want a string, got a mapping [type]`,
		`p.yaml:7:13: limits.n: "ten" is not an integer [type]`,
		`p.yaml:8:14: nested.x.b: unknown key, did you mean "a"? [unknown-key]`,
	}
	if !reflect.DeepEqual(got, wantPs) {
		t.Errorf("problems\n%q\nwant\n%q", got, wantPs)
	}

	if _, ps := decode(t, "details: [a, b]\n"); len(ps) != 1 || ps[0].Message != "details: want a mapping, got a list" {
		t.Errorf("a list for a map: %v", ps)
	}
}
