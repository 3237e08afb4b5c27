package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time (see the Makefile):
// -ldflags "-X main.version=1.2.3 -X main.commit=abc123". Without them
// the commit comes from the Go toolchain's VCS stamp, if any.
var (
	version = "dev"
	commit  = ""
)

func (a *app) versionCmd(args []string) error {
	fs := a.newFlags("version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rev, changed := buildRevision()
	modified := ""
	if changed {
		modified = " (modified)"
	}
	fmt.Fprintf(a.stdout, "notifier %s\ncommit %s%s\n%s %s/%s\n", version, rev, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildRevision is the commit built: commit, else the Go toolchain's VCS
// stamp, else "unknown"; modified says the stamp saw local changes.
func buildRevision() (rev string, modified bool) {
	rev = commit
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return rev, modified
}
