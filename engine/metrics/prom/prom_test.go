package prom

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/state"
)

func report() (*event.Event, *pipeline.Report) {
	ev := &event.Event{Source: event.SourceCMON}
	r := &pipeline.Report{Decision: &engine.Decision{}, Plan: state.Result{Send: []state.Planned{{Outcome: state.OutcomeFirst}}},
		Deliveries: []pipeline.Delivery{{Channel: "pager", Outcome: state.OutcomeDelivered, Took: 40 * time.Millisecond}}}
	return ev, r
}

// /metrics serves every family with what was observed, the gauges the
// scrape sets, and the Go and process collectors.
func TestHandler(t *testing.T) {
	r := New()
	metrics.Zero(r, []string{"pager"})
	ev, rep := report()
	metrics.ObserveEvent(r, ev, rep)
	r.GatherWith(func(s metrics.Sink) { s.Set(metrics.EngineUp, 1) })
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Result().Body)
	for _, want := range []string{
		`notifier_events_total{outcome="notified",source="cmon"} 1`,
		`notifier_deliveries_total{channel="pager",result="ok"} 1`,
		`notifier_deliveries_total{channel="pager",result="dead_letter"} 0`,
		`notifier_delivery_duration_seconds_bucket{channel="pager",le="0.05"} 1`,
		"notifier_engine_up 1",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
}

// What counting one decision costs the engine (client_golang), and an
// in-process run (metrics.Set, before the textfile).
func BenchmarkObserveEvent(b *testing.B) {
	ev, rep := report()
	b.Run("client_golang", func(b *testing.B) {
		r := New()
		for b.Loop() {
			metrics.ObserveEvent(r, ev, rep)
		}
	})
	b.Run("set", func(b *testing.B) {
		s := metrics.NewSet()
		for b.Loop() {
			metrics.ObserveEvent(s, ev, rep)
		}
	})
}
