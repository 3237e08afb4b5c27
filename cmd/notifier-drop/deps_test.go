package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSmallDependencies: notifier-drop links none of what makes the full
// binary slow to start: the policy language, YAML, HTTP, the channels,
// the state and the pipeline; nor regexp, whose tables every process
// would initialise at start-up (engine/drop's isRejectedName); nor
// package net (the wake-up client is a raw socket; the engine's side is
// engine/spool/spoolnet) or net/url, whose net/netip has the largest
// init of them; nor crypto, whose FIPS packages all initialise (the
// occurrence hash is FNV, the ids' random parts getrandom(2)).
func TestSmallDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/expr-lang/", "yaml", "net", "crypto", "notifier/channels", "notifier/engine/state", "notifier/engine/pipeline", "regexp"} {
			if strings.Contains(pkg, banned) {
				t.Errorf("notifier-drop links %s", pkg)
			}
		}
	}
}
