package engine

import (
	"os"
	"path/filepath"
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

// BenchmarkSnapshotLoad is what a run with an unchanged policy pays
// instead of BenchmarkCompile100.
func BenchmarkSnapshotLoad(b *testing.B) {
	p, ps := Compile(benchSources(b), policy.Options{})
	if p == nil {
		b.Fatal(ps)
	}
	data, err := encodeSnapshot(p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := decodeSnapshot(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCached100 is the whole warm path of a run: read the
// policy files, find, check and decode the snapshot of the 100-rule
// policy.
func BenchmarkLoadCached100(b *testing.B) {
	dir := b.TempDir()
	data, err := os.ReadFile("../bench/policy-100.yaml")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "policy-100.yaml")
	os.WriteFile(path, data, 0o644)
	cache := filepath.Join(dir, "cache")
	LoadCached(path, cache, policy.Options{})
	for b.Loop() {
		if p, _, err := LoadCached(path, cache, policy.Options{}); err != nil || p == nil || !p.FromSnapshot {
			b.Fatal("not loaded from its snapshot", err)
		}
	}
}

// BenchmarkSnapshotLoadSealed is BenchmarkSnapshotLoad with what every
// load now does first: the SHA-256 of the whole file and its header.
func BenchmarkSnapshotLoadSealed(b *testing.B) {
	p, ps := Compile(benchSources(b), policy.Options{})
	if p == nil {
		b.Fatal(ps)
	}
	body, err := encodeSnapshot(p)
	if err != nil {
		b.Fatal(err)
	}
	data := sealSnapshot(snapKey{}, policyID{Root: "/etc/notifier/notifier.yaml", Files: []fileID{{Name: "/etc/notifier/notifier.yaml", Path: "/etc/notifier/notifier.yaml"}}}, body)
	for b.Loop() {
		_, _, body, err := unsealSnapshot(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeSnapshot(body); err != nil {
			b.Fatal(err)
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
