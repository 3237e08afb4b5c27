package engine

import (
	"os"
	"testing"
	"time"

	"notifier/engine/event"
	"notifier/engine/policy"
)

// The benchmark policy: 100 rules, only the last matches benchEvent.
func benchSources(b *testing.B) []policy.Source {
	data, err := os.ReadFile("../bench/policy-100.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return []policy.Source{{Name: "policy-100.yaml", Data: data}}
}

var benchEvent = event.Event{Source: "cmon", Kind: "alarm", Action: "new", Severity: "critical", ClusterID: 1,
	EventType: "MySqlDisconnected", ID: "10736685724696984427", Key: "cmon/cc1/1/10736685724696984427", Time: time.Unix(1795301347, 0)}

// BenchmarkCompile100 is what every run pays before deciding: parse,
// check and compile a 100-rule policy.
func BenchmarkCompile100(b *testing.B) {
	srcs := benchSources(b)
	for b.Loop() {
		if p, ps := Compile(srcs, policy.Options{}); p == nil {
			b.Fatal(ps)
		}
	}
}

// BenchmarkEvaluate100 decides one event that only the 100th rule matches.
func BenchmarkEvaluate100(b *testing.B) {
	p, ps := Compile(benchSources(b), policy.Options{})
	if p == nil {
		b.Fatal(ps)
	}
	ev := benchEvent
	for b.Loop() {
		if d := p.Evaluate(&ev); !d.Dropped {
			b.Fatal("last rule did not match")
		}
	}
}

// BenchmarkEvaluateLoop decides one event with a rule that loops 1000
// times over a range the event sizes (so nothing is folded at compile
// time): what the evaluation budget's per-iteration step and clock cost.
func BenchmarkEvaluateLoop(b *testing.B) {
	src := []byte(`channels:
  local: {type: syslog}
rules:
  - name: loop
    when: 'all(1..(1000 + count), {# > count})'
    notify: [local]
`)
	p, ps := Compile([]policy.Source{{Name: "loop.yaml", Data: src}}, policy.Options{})
	if p == nil {
		b.Fatal(ps)
	}
	ev := benchEvent
	for b.Loop() {
		if d := p.Evaluate(&ev); len(d.Deliveries) != 1 {
			b.Fatalf("rule did not match: %+v", d.Rules)
		}
	}
}
