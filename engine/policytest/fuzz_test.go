package policytest

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseFile: any test file either parses or yields problems, each
// one line with a position inside the file; never a panic.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"testdata/good_test.yaml", "testdata/storm_test.yaml", "../../policies/tests/default_test.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("tests:\n  - name: a\n    steps: [{at: -1s, event: {}, silence: {match: x, for: 0s}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + 1
		_, ps := parseData("t.yaml", data)
		for _, p := range ps {
			if strings.Contains(p.Message, "\n") || p.Line < 0 || p.Line > lines {
				t.Fatalf("bad problem %+v for %q", p, data)
			}
		}
	})
}
