//go:build dropfat

package main

// Built with -tags dropfat, droponly also links every package notifier's
// main imports, none of which it calls: the drop as it would run if built
// into the notifier binary (argv or a flag choosing it), paying every
// linked package's init and the bigger binary's page faults. bench/drop.sh
// times it as droponly-fat.
import (
	_ "encoding/xml"
	_ "text/tabwriter"

	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/sys/unix"

	_ "notifier/channels"
	_ "notifier/channels/registry"
	_ "notifier/channels/syslog"
	_ "notifier/engine"
	_ "notifier/engine/lastgood"
	_ "notifier/engine/pipeline"
	_ "notifier/engine/policy"
	_ "notifier/engine/policytest"
	_ "notifier/engine/state"
	_ "notifier/engine/state/stores"
)
