package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"notifier/channels"
	"reflect"
	"testing"
)

// live says every lease owner may still be working.
func live(string) bool { return true }

// TestDecodedReusesOnlyUnchangedBytes: a Claim through Decoded takes the
// entries already decoded for records whose bytes are unchanged, and
// decodes again the record another run rewrote since — deciding on its
// new bytes. Whether an entry was decoded again shows in its Opened: a
// decode makes a new one.
func TestDecodedReusesOnlyUnchangedBytes(t *testing.T) {
	now := at(0)
	found := map[string]*Record{}
	queue(t, found,
		Entry{ID: "o/1", Key: "k1", Channel: "pager", Action: "trigger", Opened: &Opened{Window: "w/1"}},
		Entry{ID: "o/2", Key: "k2", Channel: "pager", Action: "trigger", Opened: &Opened{Window: "w/2"}},
		Entry{ID: "o/3", Key: "k3", Channel: "pager", Action: "trigger", Opened: &Opened{Window: "w/3"}},
	)
	d := NewDecoded()
	scanned := map[string]*Opened{}
	for _, e := range d.Heads(found) {
		scanned[e.ID] = e.Opened
	}
	preview, changed, err := d.Claim(maps.Clone(found), "me", now, at(1), false, live)
	if err != nil || !changed || ids(preview) != "o/1 o/2 o/3" {
		t.Fatalf("preview: %q changed %v err %v", ids(preview), changed, err)
	}
	for _, c := range preview {
		if c[0].Opened != scanned[c[0].ID] {
			t.Errorf("%s decoded again for the preview, its bytes unchanged", c[0].ID)
		}
	}

	// Between the Scan and the lock, another live run leased o/2 and a
	// third rewrote o/3's message.
	recs := maps.Clone(found)
	queue(t, recs,
		Entry{ID: "o/2", Key: "k2", Channel: "pager", Action: "trigger", LeaseOwner: "other", LeasedUntil: at(1), Opened: &Opened{Window: "w/2"}},
		Entry{ID: "o/3", Key: "k3", Channel: "pager", Action: "trigger", Reason: "rewritten", Opened: &Opened{Window: "w/3"}},
	)
	chains, _, err := d.Claim(recs, "me", now, at(1), false, live)
	if err != nil || ids(chains) != "o/1 o/3" {
		t.Fatalf("under the lock: claimed %q (err %v), want o/1 o/3: o/2 is now another live run's", ids(chains), err)
	}
	if chains[0][0].Opened != scanned["o/1"] {
		t.Error("o/1 decoded again under the lock, its bytes unchanged")
	}
	if e := chains[1][0]; e.Opened == scanned["o/3"] || e.Reason != "rewritten" {
		t.Errorf("o/3 was rewritten: claimed %+v, want its new bytes decoded", e)
	}
	if got, _ := OutboxKind.Decode(recs["o/2"]); got.LeaseOwner != "other" {
		t.Errorf("o/2 rewritten by the Claim: %+v", got)
	}
}

// TestDecodedSettleSeesTakeover: Settle through Decoded settles the
// record Claim left while its bytes are unchanged, and not one another
// run took over (or delivered) since.
func TestDecodedSettleSeesTakeover(t *testing.T) {
	now := at(0)
	recs := map[string]*Record{}
	queue(t, recs,
		Entry{ID: "o/1", Key: "k1", Channel: "pager", Action: "resolve", Created: now},                                       // claimed (written)
		Entry{ID: "o/2", Key: "k2", Channel: "pager", Action: "resolve", Created: now, LeaseOwner: "me", LeasedUntil: at(1)}, // already mine
		Entry{ID: "o/3", Key: "k3", Channel: "pager", Action: "resolve", Created: now},
		Entry{ID: "o/4", Key: "k4", Channel: "pager", Action: "resolve", Created: now, LeaseOwner: "me", LeasedUntil: at(1)},
	)
	d := NewDecoded()
	chains, changed, err := d.Claim(recs, "me", now, at(1), false, live)
	if err != nil || !changed || len(chains) != 4 {
		t.Fatalf("claimed %q changed %v err %v", ids(chains), changed, err)
	}
	// Since: o/3 taken over by another run (its lease ran out, say), o/4
	// delivered by another and gone.
	taken := chains[2][0]
	taken.LeaseOwner, taken.LeasedUntil = "other", at(5)
	queue(t, recs, taken)
	delete(recs, "o/4")
	boom := errors.New("HTTP 503")
	for i, want := range []Outcome{OutcomeDelivered, OutcomeQueued, OutcomeSuperseded, OutcomeSuperseded} {
		e := chains[i][0]
		before := recs[e.ID]
		what, err := d.Settle(recs, e, Attempt{Status: map[bool]AttemptStatus{true: AttemptDelivered, false: AttemptRetryable}[i == 0], Err: boom}, now, "me")
		if err != nil || what != want {
			t.Errorf("%s: settled %q (err %v), want %q", e.ID, what, err, want)
		}
		if want == OutcomeSuperseded && recs[e.ID] != before {
			t.Errorf("%s: a superseded settle changed the record", e.ID)
		}
	}
	if recs["o/1"] != nil {
		t.Error("o/1 delivered but still queued")
	}
	if got, ok := OutboxKind.Decode(recs["o/2"]); !ok || got.Attempts != 1 || got.LeaseOwner != "" {
		t.Errorf("o/2 after a retryable failure: %+v", got)
	}
}

// TestDecodedAvoidsDecodes: settling what Claim left, byte-identical,
// costs fewer allocations through Decoded than decoding it again.
func TestDecodedAvoidsDecodes(t *testing.T) {
	recs := map[string]*Record{}
	queue(t, recs, Entry{ID: "o/1", Key: "k", Channel: "pager", Action: "trigger", LeaseOwner: "me", LeasedUntil: at(1),
		Message: Message{V: MessageVersion, Key: "k", Action: "trigger", Summary: "db1 down", Details: map[string]string{"a": "b"}}})
	d := NewDecoded()
	chains, _, err := d.Claim(recs, "me", at(0), at(1), false, live)
	if err != nil || len(chains) != 1 {
		t.Fatalf("claimed %q, err %v", ids(chains), err)
	}
	e := chains[0][0]
	settle := func(d *Decoded) float64 {
		return testing.AllocsPerRun(20, func() {
			if what, err := d.Settle(maps.Clone(recs), e, Attempt{Status: AttemptDelivered}, at(0), "me"); err != nil || what != OutcomeDelivered {
				t.Fatalf("settled %q, err %v", what, err)
			}
		})
	}
	if with, without := settle(d), settle(nil); with >= without {
		t.Errorf("Settle through Decoded: %v allocations, decoding again: %v; want fewer", with, without)
	}
}

// TestDecodedMessagesAsEntries: what a Claim through Decoded claims —
// its message decoded after the rest — is what Claim decodes whole, for
// every form a stored message takes, and it writes the same records.
func TestDecodedMessagesAsEntries(t *testing.T) {
	v1, err := json.Marshal(Message{V: MessageVersion, Key: "k", Action: "trigger", Summary: "db1 down", Details: map[string]string{"a": "b"},
		Parts: map[string]string{"summary": "DB1 DOWN", "custom_details.runbook": "https://runbooks/db"}})
	if err != nil {
		t.Fatal(err)
	}
	v0, err := json.Marshal(channels.Message{Key: "k", Action: channels.Trigger, Summary: "written before Message"})
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*Record{}
	for i, msg := range []string{
		`,"message":` + string(v1),
		`,"message":` + string(v0),
		`,"message":null`,
		``, // none
		`,"message":5`,
		`,"message":{"v":-1}`,
		`,"message":{"v":1,"summary":"first"},"message":{"v":1,"summary":"second"}`,
		`,"message":{"v":1,"summary":"s","parts":{"summary":"rendered"}}`,
		`,"message":{"v":1,"summary":"s","parts":{"summary":5}}`, // unreadable: kept, delivery fails
		`,"Message":{"v":1,"summary":"any case"}`,
	} {
		id := fmt.Sprintf("o/%d", i)
		recs[id] = &Record{Data: fmt.Appendf(nil, `{"id":%q,"key":"k%d","channel":"pager","created":"2026-01-01T00:00:00Z"%s}`, id, i, msg)}
	}
	whole, lazy := maps.Clone(recs), maps.Clone(recs)
	want, _, err := Claim(whole, "me", at(0), at(1), true, live)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoded()
	for _, e := range d.Heads(recs) {
		if e.Message.V != 0 || e.Message.Summary != "" {
			t.Errorf("%s: Heads decoded the message: %+v", e.ID, e.Message)
		}
	}
	got, _, err := d.Claim(lazy, "me", at(0), at(1), true, live)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != ids(want) || len(want) != len(recs) {
		t.Fatalf("claimed %q, Claim claims %q", ids(got), ids(want))
	}
	for i := range want {
		if w, g := want[i][0], got[i][0]; !reflect.DeepEqual(w, g) {
			t.Errorf("%s: claimed %+v, Claim decodes %+v", w.ID, g, w)
		}
	}
	for id := range recs {
		if !bytes.Equal(whole[id].Data, lazy[id].Data) {
			t.Errorf("%s: wrote %s, Claim writes %s", id, lazy[id].Data, whole[id].Data)
		}
	}
}
