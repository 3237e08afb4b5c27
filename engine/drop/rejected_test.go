package drop

import (
	"regexp"
	"strings"
	"testing"
)

// rejectedPattern is what isRejectedName is written out from.
var rejectedPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]+\.(input|env)$`)

// isRejectedName matches exactly the names the expression matches.
func TestIsRejectedName(t *testing.T) {
	for _, n := range []string{
		"20261205T041100.123456789Z-42.input", "20261205T041100.123456789Z-1.env",
		"20261205T041100.123456789Z-.input", "20261205T041100.123456789Z-42.inputs",
		"20261205T041100.123456789Z-42.input.tmp", "20261205T041100.123456789Z-4a.env",
		"20261205X041100.123456789Z-42.env", "20261205T041100.12345678Z-42.env",
		"2026120T041100.123456789Z-42.env", "20261205T041100,123456789Z-42.env",
		"20261205T041100.123456789Y-42.env", "20261205T041100.123456789Z+42.env",
		"x20261205T041100.123456789Z-42.env", "", "20261205T041100.123456789Z-",
		"20261205T041100.123456789Z-42.", "20261205T041100.123456789Z-42.txt", "2026120aT041100.123456789Z-42.env",
	} {
		if got, want := isRejectedName(n), rejectedPattern.MatchString(n); got != want {
			t.Errorf("%q: %v, the expression says %v", n, got, want)
		}
	}
}

func FuzzIsRejectedName(f *testing.F) {
	f.Add("20261205T041100.123456789Z-42.input")
	f.Add("20261205T041100.123456789Z-42.env")
	f.Add(strings.Repeat("1", 40))
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := isRejectedName(n), rejectedPattern.MatchString(n); got != want {
			t.Errorf("%q: %v, the expression says %v", n, got, want)
		}
	})
}
