package state

import (
	"context"
	"strings"
	"testing"
	"time"
)

// readIncident and writeIncident are the tests' typed access to an
// incident record.
func readIncident(recs map[string]*Record, id string) (*Incident, *Record) {
	inc, ok := IncidentKind.Get(recs, id)
	if !ok {
		return nil, nil
	}
	return &inc, recs[id]
}

func writeIncident(recs map[string]*Record, id string, inc *Incident, expires time.Time) {
	if err := IncidentKind.Put(recs, id, *inc, expires); err != nil {
		panic(err)
	}
}

// No two kinds share a prefix, and none starts another: a Scan of one
// kind's prefix returns only that kind's records.
func TestKindPrefixesAreDistinct(t *testing.T) {
	kinds := Kinds()
	if len(kinds) < 8 {
		t.Fatalf("only %d kinds registered", len(kinds))
	}
	names := map[string]bool{}
	for i, a := range kinds {
		if a.Prefix == "" || a.Type == nil || names[a.Name] {
			t.Errorf("kind %+v: empty prefix, no type, or a name used twice", a)
		}
		names[a.Name] = true
		for j, b := range kinds {
			if i != j && strings.HasPrefix(b.Prefix, a.Prefix) {
				t.Errorf("kind %q's prefix %q starts kind %q's %q", a.Name, a.Prefix, b.Name, b.Prefix)
			}
		}
	}
	if OccurrenceKind.Prefix() == OutboxKind.Prefix() {
		t.Error("occurrence records and outbox entries share a prefix")
	}
}

// A kind reads and writes only its own ids.
func TestKindOwnsItsIDs(t *testing.T) {
	recs := map[string]*Record{}
	if err := WindowKind.Put(recs, IncidentID("k"), Window{Count: 1}, time.Time{}); err == nil {
		t.Error("a window was written under an incident id")
	}
	if err := WindowKind.Put(recs, WindowID("r", "k"), Window{Count: 2}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if w, ok := WindowKind.Get(recs, WindowID("r", "k")); !ok || w.Count != 2 {
		t.Errorf("window read back as %+v, %v", w, ok)
	}
	recs[IncidentID("k")] = recs[WindowID("r", "k")]
	if _, ok := WindowKind.Get(recs, IncidentID("k")); ok {
		t.Error("a window was read from an incident id")
	}
	recs[WindowID("r", "bad")] = &Record{Data: []byte("{")}
	if _, ok := WindowKind.Get(recs, WindowID("r", "bad")); ok {
		t.Error("an unreadable record was read")
	}
}

// An alert's occurrence record written by the version before the
// registry lies under "o/", the outbox's prefix: for the hour it lives,
// the other invocations of that alert still find it, and the outbox
// never takes it for an entry.
func TestOccurrenceUnderTheOldPrefix(t *testing.T) {
	ev, d := hitPolicy(0, 0)
	occ := "pacemaker-alert-17"
	old := "o/" + occ
	recs := map[string]*Record{old: {Data: []byte(`{"rules":["crit"]}`), Expires: at(60)}}
	in := Input{Event: ev, Decision: d, Now: at(1), Occurrence: occ}
	ids := IDs(in)
	for _, want := range []string{old, OccurrenceID(occ)} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Fatalf("IDs %v must name %s", ids, want)
		}
	}
	view := map[string]*Record{}
	for _, id := range ids {
		if r := recs[id]; r != nil {
			view[id] = r
		}
	}
	res, err := Apply(in, view)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Send) != 0 || len(res.Skip) == 0 || res.Skip[0].Outcome != "duplicate" {
		t.Fatalf("the old version's invocation already acted:\n%s", summary(res))
	}
	if r, ok := view[old]; !ok || r == nil {
		t.Error("the old record must be left alone (it is in the outbox's space)")
	}
	if !strings.HasPrefix(OccurrenceID(occ), OccurrencePrefix) || OccurrencePrefix == OutboxPrefix {
		t.Errorf("new occurrence id %q", OccurrenceID(occ))
	}
	if es := Entries(view); len(es) != 0 {
		t.Errorf("occurrence records read as outbox entries: %+v", es)
	}
}

// An outbox scan sees only outbox entries: occurrence records live apart.
func TestOutboxScanHasNoOccurrences(t *testing.T) {
	s := newMapStore()
	ev, d := hitPolicy(0, 0)
	in := Input{Event: ev, Decision: d, Now: at(0), Occurrence: "occ-1"}
	err := s.Update(context.Background(), IDs(in), func(recs map[string]*Record) error {
		_, err := Apply(in, recs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := s.Scan(context.Background(), OutboxPrefix)
	if len(out) != 0 {
		t.Errorf("outbox scan returned %d records of other kinds: %v", len(out), out)
	}
	occ, _ := s.Scan(context.Background(), OccurrencePrefix)
	if len(occ) != 1 {
		t.Errorf("occurrence records: %v", occ)
	}
}

// mapStore is the least Store for these tests (package mem builds on
// this package, so its tests here cannot use it).
type mapStore struct{ recs map[string]*Record }

func newMapStore() *mapStore { return &mapStore{recs: map[string]*Record{}} }

func (m *mapStore) Update(_ context.Context, ids []string, fn func(map[string]*Record) error) error {
	recs := map[string]*Record{}
	for _, id := range ids {
		if r := m.recs[id]; r != nil {
			recs[id] = r
		}
	}
	if err := fn(recs); err != nil {
		return err
	}
	for id, r := range recs {
		if r == nil {
			delete(m.recs, id)
		} else {
			m.recs[id] = r
		}
	}
	return nil
}

func (m *mapStore) View(_ context.Context, ids []string) (map[string]*Record, error) {
	out := map[string]*Record{}
	for _, id := range ids {
		if r := m.recs[id]; r != nil {
			out[id] = r
		}
	}
	return out, nil
}

func (m *mapStore) Scan(_ context.Context, prefix string) (map[string]*Record, error) {
	out := map[string]*Record{}
	for id, r := range m.recs {
		if strings.HasPrefix(id, prefix) {
			out[id] = r
		}
	}
	return out, nil
}

func (m *mapStore) Close() error { return nil }
