package policytest

import "testing"

// BenchmarkDefaultTests runs the shipped policy's tests (13 tests, hours
// of virtual time each): what `notifier test policies/tests` spends once
// the policy is loaded and compiled.
func BenchmarkDefaultTests(b *testing.B) {
	for b.Loop() {
		if r := RunFile("../../policies/tests/default_test.yaml", Options{}); r.Failed() {
			b.Fatalf("%v %+v", r.Problems, r.Tests)
		}
	}
}
