package pipeline

import (
	"testing"
	"time"

	"notifier/engine/state"
)

// ownBlocked: a run's own entry left out behind another live run's is
// worth waiting for; one left out behind a retry, or nothing left out
// (the shortcut when every record found was claimed), is not.
func TestOwnBlocked(t *testing.T) {
	now := time.Now()
	until := now.Add(time.Minute)
	me, other := state.NewOwner(), state.NewOwner() // both this live process
	entry := func(id, owner string) state.Entry {
		e := state.Entry{ID: state.OutboxPrefix + id, Key: "k", Channel: "pager", Action: "trigger", Created: now}
		if owner != "" {
			e.LeaseOwner, e.LeasedUntil = owner, until
		}
		return e
	}
	records := func(es ...state.Entry) map[string]*state.Record {
		out := map[string]*state.Record{}
		for _, e := range es {
			r, err := e.Record()
			if err != nil {
				t.Fatal(err)
			}
			out[e.ID] = r
		}
		return out
	}
	mine1, mine2 := entry("1", me), entry("2", me)
	held, retry := entry("0", other), entry("0", "")
	for _, c := range []struct {
		name    string
		found   map[string]*state.Record
		claimed [][]state.Entry
		want    bool
	}{
		{"all claimed", records(mine1, mine2), [][]state.Entry{{mine1, mine2}}, false},
		{"behind a live run's", records(held, mine1), nil, true},
		{"behind a retry", records(retry, mine1), nil, false},
		{"own claimed, another's held", records(held, mine1), [][]state.Entry{{mine1}}, false},
		{"nothing found", records(), nil, false},
	} {
		if got := ownBlocked(state.Entries(c.found), c.claimed, me, now); got != c.want {
			t.Errorf("%s: ownBlocked %v, want %v", c.name, got, c.want)
		}
	}
}
