package policytest

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"notifier/engine/pacemaker"
	"notifier/engine/policy"
)

// parsedFile is a test file, checked.
type parsedFile struct {
	fileSpec
	start                 time.Time
	host                  string
	policyLine, policyCol int
	Tests                 []parsedTest
}

type parsedTest struct {
	Name  string
	line  int
	Steps []stepSpec
}

// parseFile reads and checks a test file strictly: every problem at its
// line and column, all at once, like the policy loader.
func parseFile(path string) (*parsedFile, policy.Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, policy.Problems{{File: path, Severity: "error", Check: "read", Message: err.Error()}}
	}
	return parseData(path, data)
}

// parseData is parseFile on the file's content.
func parseData(path string, data []byte) (*parsedFile, policy.Problems) {
	var ps policy.Problems
	fail := func(n *yaml.Node, check, format string, args ...any) {
		ps = append(ps, policy.Problem{File: path, Line: n.Line, Col: n.Column, Severity: "error", Check: check, Message: fmt.Sprintf(format, args...)})
	}
	var err error
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line, col, msg := policy.YAMLSyntaxError(data, err)
		return nil, policy.Problems{{File: path, Line: line, Col: col, Severity: "error", Check: "yaml", Message: msg}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		// Tests after a --- would never run, and never fail.
		fail(&extra, "yaml", "more than one YAML document in one test file: the tests after --- would not run; put them in the first document or another file")
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, policy.Problems{{File: path, Line: 1, Col: 1, Severity: "error", Check: "type", Message: "a test file is a mapping with policy, start, host and tests"}}
	}
	top := doc.Content[0]
	f := &parsedFile{start: DefaultStart, host: DefaultHost}
	ps = append(ps, policy.DecodeNode(path, top, &f.fileSpec, "tests")...)
	if n := policy.MappingValue(top, "policy"); n != top {
		f.policyLine, f.policyCol = n.Line, n.Column
	}
	if f.Start != "" {
		if f.start, err = time.Parse(time.RFC3339, f.Start); err != nil {
			fail(policy.MappingValue(top, "start"), "start", "start: %q is not an RFC 3339 time like 2026-01-05T03:00:00Z", f.Start)
		}
	}
	if f.Host != "" {
		f.host = f.Host
	}
	tests := policy.MappingValue(top, "tests")
	if tests == top || tests.Kind != yaml.SequenceNode || len(tests.Content) == 0 {
		fail(tests, "tests", "tests: want a list of tests, each with a name and steps")
		return f, ps
	}
	names := map[string]int{}
	for i, tn := range tests.Content {
		tn = resolve(tn)
		t := parsedTest{line: tn.Line}
		var spec testSpec
		for _, p := range policy.DecodeNode(path, tn, &spec, "steps") {
			p.Message = fmt.Sprintf("tests[%d].%s", i, p.Message)
			ps = append(ps, p)
		}
		t.Name = spec.Name
		if t.Name == "" {
			fail(tn, "test-name", "tests[%d]: name is missing", i)
		} else if prev, dup := names[t.Name]; dup {
			fail(policy.MappingValue(tn, "name"), "test-name", "test %q already defined at line %d", t.Name, prev)
		}
		names[t.Name] = tn.Line
		steps := resolve(policy.MappingValue(tn, "steps"))
		if steps == tn || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
			fail(steps, "steps", "test %q: steps: want a list of steps (events at offsets, with what they must cause)", t.Name)
			continue
		}
		var last time.Duration
		checks := false
		for j, sn := range steps.Content {
			sn = resolve(sn)
			var s stepSpec
			for _, p := range policy.DecodeNode(path, sn, &s, inlineKeys...) {
				p.Message = fmt.Sprintf("tests[%d].steps[%d].%s", i, j, p.Message)
				ps = append(ps, p)
			}
			s.node = sn
			if sn.Kind == yaml.MappingNode {
				s.cmon, s.pacemaker, s.event = inline(sn, "cmon"), inline(sn, "pacemaker"), inline(sn, "event")
			}
			if policy.MappingValue(sn, "at") == sn {
				s.At = last // no at: the previous step's offset
			}
			if s.At < last {
				fail(policy.MappingValue(sn, "at"), "step-order", "test %q step %d: at %s is before the previous step's %s", t.Name, j+1, s.At, last)
			}
			last = s.At
			checks = checks || policy.MappingValue(sn, "expect") != sn
			what := 0
			for _, set := range []bool{s.CMONFile != "", s.cmon != nil, s.PacemakerFile != "", s.pacemaker != nil, s.event != nil, s.Silence != nil, s.Release} {
				if set {
					what++
				}
			}
			if what != 1 {
				fail(sn, "step", "test %q step %d: give exactly one of cmon, cmon_file, pacemaker, pacemaker_file, event, silence or release (got %d)", t.Name, j+1, what)
			}
			if s.pacemaker != nil && s.pacemaker.Kind != yaml.MappingNode {
				fail(s.pacemaker, "type", "test %q step %d: pacemaker: want a mapping of CRM_alert_* variables", t.Name, j+1)
			} else if s.pacemaker != nil {
				for k := 0; k+1 < len(s.pacemaker.Content); k += 2 {
					name, val := s.pacemaker.Content[k], resolve(s.pacemaker.Content[k+1])
					if err := pacemaker.CheckVariable(name.Value); err != nil {
						fail(name, "pacemaker", "test %q step %d: pacemaker: %v", t.Name, j+1, err)
					}
					if val.Kind != yaml.ScalarNode {
						fail(val, "type", "test %q step %d: pacemaker: %s: want a single value, as in the environment", t.Name, j+1, name.Value)
					}
				}
			}
			if s.event != nil && s.event.Kind != yaml.MappingNode {
				fail(s.event, "type", "test %q step %d: event: want a mapping of event fields", t.Name, j+1)
			}
			if n := policy.MappingValue(sn, "expect"); n != sn && n.Tag == "!!null" {
				// An empty expect would check nothing at all: say what is meant.
				fail(n, "expect", "test %q step %d: expect is empty; write expect: {} for \"nobody is told\", or leave expect out for a set-up step", t.Name, j+1)
			}
			if s.Silence != nil && s.Expect != nil {
				fail(policy.MappingValue(sn, "expect"), "step", "test %q step %d: a silence step causes nothing to expect", t.Name, j+1)
			}
			if s.Silence != nil && (s.Silence.Match == "" || s.Silence.For <= 0) {
				fail(policy.MappingValue(sn, "silence"), "silence", "test %q step %d: silence needs match and a for above 0", t.Name, j+1)
			}
			for k, d := range expectDeliveries(s.Expect) {
				if d.Channel == "" {
					fail(sn, "expect", "test %q step %d: expect.deliveries[%d]: channel is missing", t.Name, j+1, k)
				}
			}
			t.Steps = append(t.Steps, s)
		}
		if !checks {
			// Steps without expect only set the scene: a test of nothing
			// but those passes whatever the policy does.
			fail(steps, "expect", "test %q checks nothing: no step has an expect (write expect: {} for \"nobody is told\")", t.Name)
		}
		f.Tests = append(f.Tests, t)
	}
	return f, ps
}

func expectDeliveries(e *expectSpec) []deliverySpec {
	if e == nil {
		return nil
	}
	return e.Deliveries
}

// inline returns the node of an inline document key, or nil; an alias
// (event: *crit) is the node it names.
func inline(n *yaml.Node, key string) *yaml.Node {
	if v := policy.MappingValue(n, key); v != n {
		return resolve(v)
	}
	return nil
}

// resolve follows an alias to its anchor's node.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
