package policy

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testChannel stands in for a channel package's config.
type testChannel struct {
	Type    string        `yaml:"type"` // skipped, as the loader skips it
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
	Tags    []string      `yaml:"tags"`
	Retries int           `yaml:"retries"`
	Verbose bool          `yaml:"verbose"`
	TLS     *struct {
		CAFile string `yaml:"ca_file"`
	} `yaml:"tls"`
	Every    *time.Duration    `yaml:"every"`
	Hosts    *[]string         `yaml:"hosts"`
	Details  map[string]string `yaml:"details"`
	Implicit string            // key "implicit", as yamlFields names it
	Ignored  string            `yaml:"-"`
	private  string
}

var testChannelDocs = map[string]string{
	"url": "u", "timeout": "t", "tags": "g", "retries": "r", "verbose": "v",
	"tls": "s", "tls.ca_file": "c", "implicit": "i", "every": "e", "hosts": "h", "details": "d",
}

// testSchema generates the schema with testChannel and decodes it.
func testSchema(t *testing.T) map[string]any {
	t.Helper()
	out, err := PolicySchema(map[string]SchemaChannel{
		"test":  {Config: reflect.TypeFor[testChannel](), Doc: "a test channel", Keys: testChannelDocs},
		"other": {Config: reflect.TypeFor[struct{}](), Doc: "no options"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), "}\n") || !strings.HasPrefix(string(out), "{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n") {
		t.Errorf("not indented JSON with $schema first and a trailing newline:\n%.200s", out)
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

// TestSchemaKeysAreTheLoaders walks each spec struct and its schema
// together: every object has exactly the keys the strict decoder accepts
// and forbids the rest.
func TestSchemaKeysAreTheLoaders(t *testing.T) {
	s := testSchema(t)
	props := at(t, s, "properties").(map[string]any)
	tests := []struct {
		name   string
		typ    reflect.Type
		schema any
	}{
		{"settings", reflect.TypeFor[SettingsSpec](), props["settings"]},
		{"window", reflect.TypeFor[WindowSpec](), at(t, props, "windows", "additionalProperties")},
		{"rule", ruleKeys(), at(t, props, "rules", "items")},
		{"inhibit", reflect.TypeFor[InhibitSpec](), at(t, props, "inhibit", "items")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { sameKeys(t, tt.name, tt.typ, tt.schema) })
	}
	if got := slices.Sorted(maps.Keys(props)); !slices.Equal(got, []string{"channels", "inhibit", "rules", "settings", "windows"}) {
		t.Errorf("top-level keys %v", got)
	}
	if s["additionalProperties"] != false {
		t.Error("top level allows unknown keys")
	}
}

// ruleKeys is a struct with RuleSpec's keys and the one a rule decodes
// apart (templates, per channel type: Options.CheckTemplates).
func ruleKeys() reflect.Type {
	t := reflect.TypeFor[RuleSpec]()
	fields := make([]reflect.StructField, 0, t.NumField()+1)
	for i := range t.NumField() {
		fields = append(fields, t.Field(i))
	}
	return reflect.StructOf(append(fields, reflect.StructField{Name: "Templates", Type: reflect.TypeFor[map[string]any](), Tag: `yaml:"templates"`}))
}

func sameKeys(t *testing.T, path string, typ reflect.Type, schema any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		if typ.Kind() == reflect.Slice {
			schema = at(t, schema, "items")
		}
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	if at(t, schema, "additionalProperties") != false {
		t.Errorf("%s: allows unknown keys", path)
	}
	props := at(t, schema, "properties").(map[string]any)
	want := yamlFields(typ)
	if got := slices.Sorted(maps.Keys(props)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Errorf("%s: schema keys %v, loader keys %v", path, got, slices.Sorted(maps.Keys(want)))
	}
	for key, i := range want {
		if props[key] != nil {
			sameKeys(t, path+"."+key, typ.Field(i).Type, props[key])
		}
	}
}

// TestSchemaTypes: each Go type maps to its JSON type, and a key added to
// a struct appears with no other change (testChannel's keys are nowhere
// but in its struct).
func TestSchemaTypes(t *testing.T) {
	s := testSchema(t)
	def := at(t, s, "$defs", "channel-test").(map[string]any)
	tests := []struct {
		key  string
		want string // the property, as JSON
	}{
		{"type", `{"const":"test","description":"The channel type. a test channel"}`},
		{"rate", func() string {
			b, _ := json.Marshal(map[string]string{"$ref": "#/$defs/rate", "description": rateDoc})
			return string(b)
		}()},
		{"url", `{"description":"u","type":"string"}`},
		{"timeout", `{"$ref":"#/$defs/duration","description":"t"}`},
		{"tags", `{"description":"g","items":{"type":"string"},"type":"array"}`},
		{"retries", `{"description":"r","type":"integer"}`},
		{"verbose", `{"description":"v","type":"boolean"}`},
		{"tls", `{"additionalProperties":false,"description":"s","properties":{"ca_file":{"description":"c","type":"string"}},"type":["object","null"]}`},
		{"every", `{"anyOf":[{"$ref":"#/$defs/duration"},{"type":"null"}],"description":"e"}`},
		{"hosts", `{"description":"h","items":{"type":"string"},"type":["array","null"]}`},
		{"details", `{"additionalProperties":{"type":"string"},"description":"d","type":["object","null"]}`},
		{"implicit", `{"description":"i","type":"string"}`},
	}
	props := at(t, def, "properties").(map[string]any)
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, _ := json.Marshal(props[tt.key])
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if len(props) != len(tests) {
		t.Errorf("channel-test has keys %v", slices.Sorted(maps.Keys(props)))
	}
	if def["additionalProperties"] != false || def["description"] != "a test channel" {
		t.Errorf("channel-test: %v", def)
	}
	if got := at(t, s, "$defs", "channel", "properties", "type", "enum"); !reflect.DeepEqual(got, []any{"other", "test"}) {
		t.Errorf("type enum %v", got)
	}
	if got := len(at(t, s, "$defs", "channel", "allOf").([]any)); got != 2 {
		t.Errorf("%d if/then branches, want one per type", got)
	}
}

// TestSchemaEveryKeyDescribed: editors show a description on hover for
// every key.
func TestSchemaEveryKeyDescribed(t *testing.T) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k, p := range props {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						t.Errorf("%s.%s: no description", path, k)
					}
				}
			}
			for k, sub := range v {
				if k != "if" { // a condition, not a definition
					walk(path+"/"+k, sub)
				}
			}
		case []any:
			for _, sub := range v {
				walk(path, sub)
			}
		}
	}
	walk("", testSchema(t))
}

func TestSchemaRefusesWhatTheLoaderCannotDecode(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
	}{
		{"nil", nil},
		{"not a struct", reflect.TypeFor[string]()},
		{"map field not keyed by text", reflect.TypeFor[struct {
			M map[int]string `yaml:"m"`
		}]()},
		{"float field", reflect.TypeFor[struct {
			F float64 `yaml:"f"`
		}]()},
		{"interface field", reflect.TypeFor[struct {
			I any `yaml:"i"`
		}]()},
		{"int64 field", reflect.TypeFor[struct {
			I int64 `yaml:"i"`
		}]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := PolicySchema(map[string]SchemaChannel{"x": {Config: tt.typ}}); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := PolicySchema(nil); err == nil {
		t.Error("no channel types: no error")
	}
}

// TestSchemaDurationPattern: the pattern accepts exactly what the loader
// reads as a duration that is not negative.
func TestSchemaDurationPattern(t *testing.T) {
	anyOf := at(t, testSchema(t), "$defs", "duration", "anyOf").([]any)
	re := regexp.MustCompile(anyOf[0].(map[string]any)["pattern"].(string))
	if got := anyOf[1].(map[string]any)["const"]; got != 0.0 {
		t.Errorf("second branch const %v, want 0 (a YAML integer)", got)
	}
	for _, s := range []string{
		"30s", "1h30m", "500ms", "0", "+0", "0s", "+5m", "1.5h", ".5s", "1.s", "1µs", "1μs", "1us", "1ns", "2h45m30.5s", "007m",
		"", "s", "5", "-5m", "-1s", "1d", "1h 30m", " 1h", "10S", ".s", ".", "1e3s", "1,5h", "m5", "1hh", "0x10s", "++1s",
	} {
		d, err := time.ParseDuration(s)
		loader := err == nil && d >= 0
		if got := re.MatchString(s); got != loader {
			t.Errorf("%q: schema %v, loader %v", s, got, loader)
		}
	}
}
