package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// longKeys: keys far over bbolt's 32 KiB key limit (a 40 000-digit CMON
// alarm id, a 100 KB Pacemaker node name, a long rule name, a long
// suppress key) are decided like any other on every store: the repeat is
// suppressed, the recovery finds the incident, every id written is
// within state.MaxIDLen. A raw id over the bound is refused as a bug,
// not reported as an unavailable store.
func longKeys(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	keys := map[string]string{
		"cmon id of 40000 digits":  "cmon/cc/1/" + "1" + strings.Repeat("0", 39999),
		"pacemaker node of 100 KB": "pacemaker/c/node/" + strings.Repeat("n", 100_000),
	}
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			now := time.Now()
			apply := func(action string, at time.Time, occ string) state.Result {
				t.Helper()
				ev := &event.Event{Key: key, Action: action, Severity: "critical"}
				rule := "crit-" + strings.Repeat("r", 300)
				d := &engine.Decision{Key: key,
					Hits:       []engine.Hit{{Rule: rule, SuppressFor: time.Hour, EscalateAfter: 3, EscalateWithin: time.Hour, Escalation: []engine.Delivery{{Channel: "boss", Type: "pagerduty", Action: "trigger", Rule: rule}}}},
					Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: rule}}}
				return apply(t, s, state.Input{Event: ev, Decision: d, Now: at, Occurrence: occ})
			}
			if r := apply(event.ActionNew, now, strings.Repeat("o", 40_000)); len(r.Send) != 1 || r.Send[0].Outcome != state.OutcomeFirst {
				t.Fatalf("first occurrence: send %+v", r.Send)
			}
			if r := apply(event.ActionNew, now.Add(time.Minute), ""); len(r.Send) != 0 || len(r.Skip) == 0 || r.Skip[0].Outcome != state.OutcomeSuppressed {
				t.Fatalf("repeat: send %+v skip %+v, want suppressed", r.Send, r.Skip)
			}
			if r := apply(event.ActionRemove, now.Add(2*time.Minute), ""); len(r.Send) != 1 || r.Send[0].Outcome != state.OutcomeResolved {
				t.Fatalf("recovery: send %+v skip %+v, want the incident resolved", r.Send, r.Skip)
			}
			all, err := s.Scan(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for id := range all {
				if len(id) > state.MaxIDLen {
					t.Errorf("id of %d bytes stored: %.80q", len(id), id)
				}
			}
			if r := apply(event.ActionNew, now.Add(3*time.Minute), ""); len(r.Send) != 1 || r.Send[0].Outcome != state.OutcomeFirst {
				t.Errorf("after the resolve the windows must be gone: send %+v skip %+v", r.Send, r.Skip)
			}
		})
	}

	t.Run("a raw over-long id is refused as a bug", func(t *testing.T) {
		s := open(t)
		id := "x/" + strings.Repeat("k", state.MaxIDLen)
		err := s.Update(ctx, nil, func(m map[string]*state.Record) error {
			m[id] = &state.Record{Data: []byte("1")}
			return nil
		})
		if err == nil || errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "over the bound") {
			t.Fatalf("err = %.200v, want a refusal that is not ErrUnavailable", err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("error of %d bytes: it must not carry the whole id", len(err.Error()))
		}
	})
}
