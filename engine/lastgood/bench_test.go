package lastgood

import (
	"testing"

	"notifier/engine/policy"
)

// BenchmarkLoad100 is what every run pays for its policy: read, parse and
// compile 100 rules, and check the kept copy (unchanged: read, not
// written).
func BenchmarkLoad100(b *testing.B) {
	cache := b.TempDir()
	path := "../../bench/policy-100.yaml"
	if p, ps, err := Load(path, cache, policy.Options{}); p == nil || err != nil {
		b.Fatal(ps, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p, ps, err := Load(path, cache, policy.Options{}); p == nil || err != nil {
			b.Fatal(ps, err)
		}
	}
}
