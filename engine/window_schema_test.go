package engine

import (
	"encoding/json"
	"notifier/engine/policy"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The schema's window patterns (engine/policy) against the compiler's
// window checks (here): an editor must accept exactly what loads.

func TestSchemaWeekdayPattern(t *testing.T) {
	items := at(t, windowSchema(t), "properties", "windows", "additionalProperties", "properties", "weekdays", "items", "anyOf").([]any)
	enum := items[0].(map[string]any)["enum"].([]any)
	re := regexp.MustCompile(items[1].(map[string]any)["pattern"].(string))
	cases := []string{"mon", "Mon", "MON", " tue ", "mon-fri", "Fri-Mon", "sun-sun", "sat-sun",
		"", "mo", "monday", "mon - fri", "mon-", "-fri", "mon-fri-sat", "1", "mon,tue"}
	for _, e := range enum {
		cases = append(cases, e.(string))
	}
	for _, s := range cases {
		if got, loader := re.MatchString(s), windowLoads(policy.WindowSpec{Weekdays: []string{s}}); got != loader {
			t.Errorf("%q: schema %v, loader %v", s, got, loader)
		}
	}
}

func TestSchemaTimesPattern(t *testing.T) {
	re := regexp.MustCompile(at(t, windowSchema(t), "properties", "windows", "additionalProperties", "properties", "times", "items", "pattern").(string))
	for _, s := range []string{"09:00-17:00", "22:00-06:00", "00:00-24:00", " 08:30 - 12:15 ", "23:59-00:00",
		"9:00-17:00", "09:00", "09:00-24:01", "24:00-01:00", "09:60-10:00", "25:00-26:00", "0900-1700", "09:00–17:00", "-"} {
		if got, loader := re.MatchString(s), windowLoads(policy.WindowSpec{Times: []string{s}}); got != loader {
			t.Errorf("%q: schema %v, loader %v", s, got, loader)
		}
	}
}

// windowLoads reports whether the compiler accepts spec.
func windowLoads(spec policy.WindowSpec) bool {
	var ps policy.Problems
	n := &yaml.Node{}
	compileWindow(&policy.WindowDef{Name: "w", Spec: spec, Decoded: true, Node: n, Timezone: n, Weekdays: n, Times: n}, &ps)
	return len(ps) == 0
}

// windowSchema is the policy schema, decoded.
func windowSchema(t *testing.T) map[string]any {
	t.Helper()
	out, err := policy.PolicySchema(map[string]policy.SchemaChannel{"other": {Config: reflect.TypeFor[struct{}](), Doc: "no options"}})
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// at follows keys through decoded JSON.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok || m[k] == nil {
			t.Fatalf("schema has no %s", strings.Join(keys[:i+1], "."))
		}
		v = m[k]
	}
	return v
}
