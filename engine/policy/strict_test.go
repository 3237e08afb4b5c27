package policy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// A mapping with keys of the author's choosing decodes into a map: any
// key once, each value strictly, every problem at its place.
func TestDecodeNodeMap(t *testing.T) {
	type spec struct {
		Details map[string]string `yaml:"details"`
	}
	for _, tt := range []struct {
		src  string
		want map[string]string
		errs []string // line:col check
	}{
		{"details: {runbook: https://x, owner: dba}", map[string]string{"runbook": "https://x", "owner": "dba"}, nil},
		{"details:", nil, nil},
		{"details: {}", map[string]string{}, nil},
		{"details: {a: 1, a: 2}", map[string]string{"a": "1"}, []string{"1:17 duplicate-key"}},
		{"details: {a: [x], b: y}", map[string]string{"b": "y"}, []string{"1:14 type"}},
		{"details: [x]", nil, []string{"1:10 type"}},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
			t.Fatal(err)
		}
		var got spec
		ps := DecodeNode("p.yaml", doc.Content[0], &got)
		var errs []string
		for _, p := range ps {
			errs = append(errs, fmt.Sprintf("%d:%d %s", p.Line, p.Col, p.Check))
			if !strings.HasPrefix(p.Message, "details") {
				t.Errorf("%s: message %q does not name the option", tt.src, p.Message)
			}
		}
		if !reflect.DeepEqual(got.Details, tt.want) || fmt.Sprint(errs) != fmt.Sprint(tt.errs) {
			t.Errorf("%s: %#v, %v; want %#v, %v", tt.src, got.Details, errs, tt.want, tt.errs)
		}
	}
}
