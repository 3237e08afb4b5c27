package pipeline

import (
	"errors"
	"slices"
	"testing"
	"time"

	"notifier/engine/state"
)

// queueFor leaves key's pager trigger queued in r's outbox, due: the
// pager could not be built when it was decided.
func queueFor(t *testing.T, r *rig, key string) {
	t.Helper()
	r.unbuilt["pager"] = errors.New("routing_key_file: permission denied")
	ev := alarm("new", "critical")
	ev.Key = key
	if rep := r.run(t, ev); rep.Queued != 1 {
		t.Fatalf("%s: queued %d, want the pager's trigger", key, rep.Queued)
	}
	delete(r.unbuilt, "pager")
	r.clock = r.clock.Add(time.Hour) // the retry is due, the lease over
}

// TestKeyFlushLeavesOtherKeys: with KeyFlush (the engine's) a run
// delivers its own event and leaves another key's due delivery to the
// flush; without it (a run of its own) it delivers that one too.
func TestKeyFlushLeavesOtherKeys(t *testing.T) {
	r := newRig(t, testPolicy)
	queueFor(t, r, "cmon/ctl/1/1")
	r.pl.KeyFlush = true
	ev := alarm("new", "critical")
	ev.Key = "cmon/ctl/1/2"
	rep := r.run(t, ev)
	if !rep.OK() || rep.Delivered != 2 || rep.Queued != 0 {
		t.Fatalf("KeyFlush: needs %v, delivered %d, queued %d; want this event's pager and chat", rep.NeedsPerson, rep.Delivered, rep.Queued)
	}
	if q := r.outbox(t); len(q) != 1 || q[0].Key != "cmon/ctl/1/1" {
		t.Fatalf("outbox %+v, want the other key's trigger left queued", q)
	}
	r.pl.KeyFlush = false
	ev.Key = "cmon/ctl/1/3"
	rep = r.run(t, ev)
	if !rep.OK() || rep.Delivered != 3 {
		t.Fatalf("without KeyFlush: needs %v, delivered %d; want this event's two and the queued trigger", rep.NeedsPerson, rep.Delivered)
	}
	if q := r.outbox(t); len(q) != 0 {
		t.Errorf("outbox holds %+v", q)
	}
}

// TestKeyFlushKeepsTheKeysOrder: with KeyFlush, what the outbox holds
// for the run's own key from before goes first: the queued trigger is
// delivered, then the resolve.
func TestKeyFlushKeepsTheKeysOrder(t *testing.T) {
	r := newRig(t, testPolicy)
	const key = "cmon/ctl/1/42"
	queueFor(t, r, key)
	r.pl.KeyFlush = true
	rep := r.run(t, alarm("remove", "critical"))
	if !rep.OK() || rep.Queued != 0 {
		t.Fatalf("needs %v, queued %d", rep.NeedsPerson, rep.Queued)
	}
	if got := actions(r.chans["pager"].messages()); !slices.Equal(got, []string{"trigger", "resolve"}) {
		t.Errorf("pager got %v, want the queued trigger, then the resolve", got)
	}
}

// TestEntryKey: an outbox record's key is read without decoding the
// record, whatever the key holds; a record of another layout is not
// read so.
func TestEntryKey(t *testing.T) {
	for _, key := range []string{"cmon/ctl/1/42", `a "quoted" key`, `back\slash`, "<html>&", "ünïcode/\u2028", ""} {
		rec, err := state.Entry{ID: state.NewEntryID(time.Now()), Key: key, Channel: "pager"}.Record()
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := entryKey(rec.Data); !ok || got != key {
			t.Errorf("entryKey(%s) = %q, %v; want %q", rec.Data, got, ok, key)
		}
	}
	for _, raw := range []string{``, `{}`, `{"key":"k","id":"o/1"}`, `{"id":"o/1", "key":"k"}`, `{"id":"o/1","key":"unterminated`, `{"id":"o\"1","key":"k"}`} {
		if got, ok := entryKey([]byte(raw)); ok {
			t.Errorf("entryKey(%s) = %q, true; want not read", raw, got)
		}
	}
}

// TestOnlyKey: only records of other keys are left out; what cannot be
// read so stays, for the caller to decode.
func TestOnlyKey(t *testing.T) {
	found := map[string]*state.Record{}
	for i, key := range []string{"mine", "other", "mine", "other"} {
		e := state.Entry{ID: state.NewEntryID(time.Unix(int64(i), 0)), Key: key}
		rec, err := e.Record()
		if err != nil {
			t.Fatal(err)
		}
		found[e.ID] = rec
	}
	found["o/odd"] = &state.Record{Data: []byte(`{"key":"other","id":"o/odd"}`)}
	onlyKey(found, "mine")
	var keys []string
	for _, e := range state.Entries(found) {
		keys = append(keys, e.Key)
	}
	if !slices.Equal(keys, []string{"mine", "mine", "other"}) || found["o/odd"] == nil {
		t.Errorf("kept %v, want both of mine and the record not read", keys)
	}
}
