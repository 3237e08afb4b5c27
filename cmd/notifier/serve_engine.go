//go:build engine

package main

import (
	"net/http"
	"runtime"

	"notifier/engine/metrics"
	"notifier/engine/metrics/prom"
)

// The engine build (notifier-engine: `go build -tags engine`) serves
// /metrics through client_golang; the plain notifier, which CMON and
// Pacemaker start for every event, does not link it (see
// engine/metrics: its initialisation alone costs about 1 ms a process).
func init() {
	engineMetrics = func(gather func(metrics.Sink)) (metrics.Sink, http.Handler) {
		r := prom.New()
		rev, _ := buildRevision()
		r.Set(metrics.BuildInfo, 1, version, rev, runtime.Version())
		r.GatherWith(gather)
		return r, r.Handler()
	}
}
