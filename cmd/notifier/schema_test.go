package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"notifier/engine"
	"notifier/engine/policy"
)

const schemaFile = "../../docs/policy.schema.json"

// TestSchemaCommandMatchesDocs: the committed schema, which editors load
// through the modelines, is what `notifier schema` prints.
func TestSchemaCommandMatchesDocs(t *testing.T) {
	code, stdout, stderr := runInProcess(t, "", nil, "schema")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v: run `make schema`", err)
	}
	if stdout != string(want) {
		t.Errorf("docs/policy.schema.json differs from `notifier schema`: run `make schema`")
	}
	for _, args := range [][]string{{"schema", "extra"}, {"schema", "--frob"}} {
		if code, stdout, _ := runInProcess(t, "", nil, args...); code != exitUsage || stdout != "" {
			t.Errorf("%v: exit %d, stdout %.40q; want %d and nothing", args, code, stdout, exitUsage)
		}
	}
}

// TestSchemaModelines: the shipped files point editors at the schema.
func TestSchemaModelines(t *testing.T) {
	for _, f := range []string{"../../policies/default.yaml", "../../examples/config/notifier.yaml", "../../bench/policy-100.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		rel, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
		if !ok {
			t.Errorf("%s: first line %q is not the yaml-language-server modeline", f, first)
			continue
		}
		if got := filepath.Join(filepath.Dir(f), rel); got != filepath.Clean(schemaFile) {
			t.Errorf("%s: $schema=%s names %s, not docs/policy.schema.json", f, rel, got)
		}
	}
}

// TestSchemaAndLoaderAcceptShippedPolicies: every shipped and example
// policy validates against the schema and loads without an error.
func TestSchemaAndLoaderAcceptShippedPolicies(t *testing.T) {
	sch := compileSchema(t)
	var files []string
	for _, glob := range []string{"../../policies/*.yaml", "../../examples/config/*.yaml", "../../bench/policy-100.yaml"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	var srcs []policy.Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, policy.Source{Name: f, Data: data})
	}
	srcs = append(srcs, embeddedPolicies(t, "../../examples")...)
	for _, src := range srcs {
		t.Run(strings.TrimPrefix(src.Name, "../../"), func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, src.Data)); err != nil {
				t.Errorf("schema rejects it: %v", err)
			}
			if p, ps := engine.Lint([]policy.Source{src}, newWiring().loadOptions()); p == nil || len(ps.Errors()) > 0 {
				t.Errorf("loader rejects it:\n%v", ps)
			}
		})
	}
}

// embeddedPolicies are the ```yaml blocks of the Markdown under dir that
// are whole policies (they have rules); fragments are not checked.
func embeddedPolicies(t *testing.T, dir string) []policy.Source {
	block := regexp.MustCompile("(?ms)^```ya?ml\n(.*?)^```")
	var out []policy.Source
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".md" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, m := range block.FindAllSubmatch(data, -1) {
			var top map[string]any
			if yaml.Unmarshal(m[1], &top) == nil && top["rules"] != nil {
				out = append(out, policy.Source{Name: fmt.Sprintf("%s#%d", path, i+1), Data: m[1]})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	minimalChannels = "channels:\n  log: {type: syslog}\n"
	minimalRules    = "rules:\n  - {name: all, when: \"true\", notify: [log]}\n"
)

// TestSchemaAcceptsMinimalPolicy: the smallest useful policy, and one
// with every section, pass both.
func TestSchemaAcceptsMinimalPolicy(t *testing.T) {
	sch := compileSchema(t)
	full := `settings:
  deadline: 15s
  cluster: {id: 7, name: prod-db}
  state: {path: /tmp/state.db, redis: {url: "redis://10.0.0.5:6379/0"}}
  audit_log: /tmp/audit.jsonl
channels:
  page: {type: pagerduty, routing_key_file: pd.key, timeout: 0}
  chat: {type: slack, token_file: slack.token, channel: "#ops", timeout: 1m30s}
  log: {type: syslog, address: "tls://logs.example.net", ca_file: ca.pem}
windows:
  office: {timezone: Europe/Stockholm, weekdays: [Mon-fri, sat], times: ["09:00-17:00", "22:00-24:00"]}
rules:
  - name: page
    when: severity == "critical" && in_window("office")
    notify: [page, chat]
    continue: true
    muted_during: [office]
    suppress: {for: 30m, key: key + node}
    escalate: {after: 3, within: 1h, notify: [log]}
  - {name: rest, when: "true", notify: [log], active_during: [office], suppress: null}
`
	for name, text := range map[string]string{"minimal": minimalChannels + minimalRules, "full": full} {
		t.Run(name, func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, []byte(text))); err != nil {
				t.Errorf("schema: %v", err)
			}
			if p, ps := engine.Lint([]policy.Source{{Name: "p.yaml", Data: []byte(text)}}, newWiring().loadOptions()); p == nil {
				t.Errorf("loader: %v", ps)
			}
		})
	}
}

// TestSchemaAndLoaderRejectBrokenPolicies: a mistake the loader reports
// as an unknown key, a wrong type or a bad duration, the schema rejects
// too, at the same place.
func TestSchemaAndLoaderRejectBrokenPolicies(t *testing.T) {
	sch := compileSchema(t)
	rule := func(extra string) string {
		return "rules:\n  - {name: all, when: \"true\", notify: [log], " + extra + "}\n"
	}
	tests := []struct {
		name   string
		policy string
		check  string   // the loader reports this
		also   []string // and may report these, echoes of the same mistake
		at     string   // where the schema reports it (or below)
	}{
		{"unknown key at top level", minimalChannels + minimalRules + "rule: []\n", "unknown-key", nil, ""},
		{"unknown key in settings", "settings: {deadlin: 20s}\n" + minimalChannels + minimalRules, "unknown-key", nil, "/settings"},
		{"unknown key in settings.state", "settings: {state: {pth: /tmp/s.db}}\n" + minimalChannels + minimalRules, "unknown-key", nil, "/settings/state"},
		{"unknown key in settings.state.redis", "settings: {state: {redis: {ur: \"redis://h:6379/0\"}}}\n" + minimalChannels + minimalRules, "unknown-key", nil, "/settings/state/redis"},
		{"unknown key in settings.cluster", "settings: {cluster: {nam: prod}}\n" + minimalChannels + minimalRules, "unknown-key", nil, "/settings/cluster"},
		{"unknown key in a window", minimalChannels + "windows:\n  w: {timezone: UTC, day: [mon]}\n" + rule("active_during: [w]"), "unknown-key", nil, "/windows/w"},
		{"unknown key in a rule", minimalChannels + rule("notfy: [log]"), "unknown-key", nil, "/rules/0"},
		{"unknown key in suppress", minimalChannels + rule("suppress: {for: 1m, kye: node}"), "unknown-key", nil, "/rules/0/suppress"},
		{"unknown key in escalate", minimalChannels + rule("escalate: {after: 2, within: 1m, notify: [log], afer: 3}"), "unknown-key", nil, "/rules/0/escalate"},
		{"unknown key in a pagerduty channel", "channels:\n  log: {type: pagerduty, routing_key_file: pd.key, routing_ky: x}\n" + minimalRules, "unknown-key", nil, "/channels/log"},
		{"unknown key in a slack channel", "channels:\n  log: {type: slack, webhook_url_file: slack.url, chanel: \"#ops\"}\n" + minimalRules, "unknown-key", nil, "/channels/log"},
		{"unknown key in a syslog channel", "channels:\n  log: {type: syslog, facilty: daemon}\n" + minimalRules, "unknown-key", nil, "/channels/log"},
		{"unknown channel type", "channels:\n  log: {type: sms}\n" + minimalRules, "channel-type", nil, "/channels/log/type"},
		{"string where list", minimalChannels + "rules:\n  - {name: all, when: \"true\", notify: log}\n", "type", nil, "/rules/0/notify"},
		{"string where list: weekdays", minimalChannels + "windows:\n  w: {weekdays: mon}\n" + rule("active_during: [w]"), "type", nil, "/windows/w/weekdays"},
		{"list where string", minimalChannels + "rules:\n  - {name: [all], when: \"true\", notify: [log]}\n", "type", nil, "/rules/0/name"},
		{"list where string: channel", "channels:\n  log: {type: slack, token_file: t, channel: [\"#ops\"]}\n" + minimalRules, "type", nil, "/channels/log/channel"},
		{"bool as yes please", minimalChannels + "rules:\n  - {name: all, when: \"true\", notify: [log], continue: yes please}\n", "type", nil, "/rules/0/continue"},
		{"integer as a word", "settings: {cluster: {id: seven}}\n" + minimalChannels + minimalRules, "type", nil, "/settings/cluster/id"},
		{"mapping where list of rules", minimalChannels + "rules: {name: all}\n", "type", nil, "/rules"},
		{"list where window", minimalChannels + "windows:\n  w: [mon]\n" + minimalRules, "type", nil, "/windows/w"},
		{"bad duration: deadline", "settings: {deadline: soon}\n" + minimalChannels + minimalRules, "duration", nil, "/settings/deadline"},
		{"bad duration: suppress.for", minimalChannels + rule("suppress: {for: soon}"), "duration", []string{"suppress"}, "/rules/0/suppress/for"},
		{"bad duration: escalate.within", minimalChannels + rule("escalate: {after: 2, within: soon, notify: [log]}"), "duration", []string{"escalate-within"}, "/rules/0/escalate/within"},
		{"bad duration: no unit", minimalChannels + rule("suppress: {for: 30}"), "duration", []string{"suppress"}, "/rules/0/suppress/for"},
		{"bad duration: channel timeout", "channels:\n  log: {type: syslog, timeout: soon}\n" + minimalRules, "duration", nil, "/channels/log/timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := engine.Lint([]policy.Source{{Name: "p.yaml", Data: []byte(tt.policy)}}, newWiring().loadOptions())
			errs := ps.Errors()
			found := false
			for _, p := range errs {
				found = found || p.Check == tt.check
				if p.Check != tt.check && !slices.Contains(tt.also, p.Check) {
					t.Errorf("loader: unexpected %s", p.Message+" ["+p.Check+"]")
				}
			}
			if !found {
				t.Errorf("loader: no %s error in %v", tt.check, ps)
			}
			err := sch.Validate(yamlToJSON(t, []byte(tt.policy)))
			if err == nil {
				t.Fatal("schema accepts it")
			}
			locs := leafLocations(err.(*jsonschema.ValidationError))
			if !slices.ContainsFunc(locs, func(l string) bool { return strings.HasPrefix(l+"/", tt.at+"/") }) {
				t.Errorf("schema reports it at %v, want at or below %q:\n%v", locs, tt.at, err)
			}
		})
	}
}

// leafLocations are where the innermost validation errors are, as JSON
// pointers ("" for the document).
func leafLocations(e *jsonschema.ValidationError) []string {
	if len(e.Causes) == 0 {
		if len(e.InstanceLocation) == 0 {
			return []string{""}
		}
		return []string{"/" + strings.Join(e.InstanceLocation, "/")}
	}
	var out []string
	for _, c := range e.Causes {
		out = append(out, leafLocations(c)...)
	}
	return out
}

// compileSchema compiles what `notifier schema` prints (it is checked
// against the draft 2020-12 meta-schema on the way).
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := policySchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("policy.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// yamlToJSON is what an editor validates: the YAML document as JSON.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// jsonValue makes every mapping's keys strings, as JSON needs.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
	}
	return v
}
