package engine

import (
	"os"
	"testing"
	"time"
)

// The benchmark policy: 100 rules, only the last matches benchEvent.
func benchSources(b *testing.B) []Source {
	data, err := os.ReadFile("../bench/policy-100.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return []Source{{Name: "policy-100.yaml", Data: data}}
}

var benchEvent = Event{Source: "cmon", Kind: "alarm", Action: "new", Severity: "critical", ClusterID: 1,
	EventType: "MySqlDisconnected", ID: "10736685724696984427", Key: "cmon/cc1/1/10736685724696984427", Time: time.Unix(1795301347, 0)}

// BenchmarkCompile100 is what every run pays before deciding: parse,
// check and compile a 100-rule policy.
func BenchmarkCompile100(b *testing.B) {
	srcs := benchSources(b)
	for b.Loop() {
		if p, ps := Compile(srcs, LoadOptions{}); p == nil {
			b.Fatal(ps)
		}
	}
}

// BenchmarkEvaluate100 decides one event that only the 100th rule matches.
func BenchmarkEvaluate100(b *testing.B) {
	p, ps := Compile(benchSources(b), LoadOptions{})
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
	p, ps := Compile(benchSources(b), LoadOptions{})
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
