package state

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"notifier/channels"
)

// fullMessage is a channels.Message with every field set, so a field
// Message does not carry shows as a difference.
func fullMessage(t *testing.T) channels.Message {
	t.Helper()
	var m channels.Message
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(40 + i))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"alarm_id": "42", "host": "db1"}))
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 22, 3, 4, 5, 6, time.UTC)))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]channels.Member{{Key: "cmon/cc/1/42", Severity: "critical", Summary: "db1 down", Node: "db1", EventType: "MySqlDown", Open: true, Count: 2}}))
		default:
			t.Fatalf("channels.Message.%s is a %s: teach fullMessage and Message about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	return m
}

func TestMessageCarriesEveryField(t *testing.T) {
	want := fullMessage(t)
	data, err := json.Marshal(MessageOf(want))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"v":1`) || !strings.Contains(string(data), `"cluster_id":`) || !strings.Contains(string(data), `"parts":{`) {
		t.Errorf("encoding %s: want a version and tagged names", data)
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	got, err := m.Channels()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v, %v\nwant %+v", got, err, want)
	}
}

// oldEntry is an outbox entry as the version before Message wrote it: the
// message is channels.Message's own encoding, Go field names, no version.
const oldEntry = `{"id":"o/00000001795230245000000000-0a1b2c3d","key":"cmon/cc/1/42","channel":"pager","type":"pagerduty","action":"trigger","rule":"crit","reason":"first",` +
	`"message":{"Key":"cmon/cc/1/42","Action":"trigger","Severity":"critical","Summary":"[critical] db1: MySQL down","Rule":"crit","Source":"cmon","Kind":"alarm",` +
	`"EventType":"alarm","Cluster":"prod","ClusterID":7,"Node":"db1","Controller":"cc1","Name":"MySqlDown","Text":"mysqld is not running","Recommendation":"restart it",` +
	`"Count":3,"Time":"2026-11-22T03:00:00Z","Details":{"alarm_id":"42"},"Suppressed":2},` +
	`"created":"2026-11-22T03:00:00Z","attempts":1,"next_attempt":"2026-11-22T03:00:30Z","last_error":"503"}`

// A page queued by the previous version survives the upgrade: its entry
// decodes, and its message is what that version would have delivered.
func TestOldEntryDecodesAndDeliversTheSame(t *testing.T) {
	want := channels.Message{Key: "cmon/cc/1/42", Action: channels.Trigger, Severity: "critical", Summary: "[critical] db1: MySQL down", Rule: "crit",
		Source: "cmon", Kind: "alarm", EventType: "alarm", Cluster: "prod", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "MySqlDown",
		Text: "mysqld is not running", Recommendation: "restart it", Count: 3, Time: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC),
		Details: map[string]string{"alarm_id": "42"}, Suppressed: 2}
	id := "o/00000001795230245000000000-0a1b2c3d"
	es := Entries(map[string]*Record{id: {Data: []byte(oldEntry)}})
	if len(es) != 1 || es[0].ID != id || es[0].Attempts != 1 {
		t.Fatalf("old entry decoded as %+v", es)
	}
	got, err := es[0].Message.Channels()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("old message:\n got %+v, %v\nwant %+v", got, err, want)
	}
	// Written back (a retry), it is in the new form and still the same.
	r, err := es[0].Record()
	if err != nil {
		t.Fatal(err)
	}
	again := Entries(map[string]*Record{id: r})
	if len(again) != 1 {
		t.Fatalf("rewritten entry: %s", r.Data)
	}
	if got, err := again[0].Message.Channels(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("rewritten message:\n got %+v, %v\nwant %+v (%s)", got, err, want, r.Data)
	}
	if !strings.Contains(string(r.Data), `"v":1`) {
		t.Errorf("rewritten without a version: %s", r.Data)
	}
}

// A message that does not decode leaves its entry readable (so its
// delivery fails and it becomes a dead letter) and is kept as it was.
func TestUnreadableMessageKeepsItsEntry(t *testing.T) {
	for name, msg := range map[string]string{
		"not an object": `"garbage"`,
		"wrong type":    `{"Key":7}`,
		"bad version":   `{"v":-1,"key":"k"}`,
	} {
		t.Run(name, func(t *testing.T) {
			data := `{"id":"o/1","key":"k","channel":"pager","message":` + msg + `}`
			es := Entries(map[string]*Record{"o/1": {Data: []byte(data)}})
			if len(es) != 1 {
				t.Fatalf("entry with an unreadable message dropped: %v", es)
			}
			if _, err := es[0].Message.Channels(); err == nil {
				t.Fatal("unreadable message delivered")
			}
			r, err := es[0].Record()
			if err != nil || !strings.Contains(string(r.Data), `"message":`+msg) {
				t.Errorf("rewritten as %s, %v: want the message kept as it was", r.Data, err)
			}
		})
	}
}

// An entry whose message is null or missing is not delivered as an
// empty page (before state.Message, a missing one failed and a null one
// was delivered empty): its delivery fails, so it becomes a dead letter
// and marks its channel, and the entry is kept as it was.
func TestMissingMessage(t *testing.T) {
	for name, data := range map[string]string{
		"null":    `{"id":"o/1","key":"k","channel":"pager","message":null}`,
		"missing": `{"id":"o/1","key":"k","channel":"pager"}`,
	} {
		t.Run(name, func(t *testing.T) {
			es := Entries(map[string]*Record{"o/1": {Data: []byte(data)}})
			if len(es) != 1 {
				t.Fatal("entry dropped")
			}
			if m, err := es[0].Message.Channels(); err == nil {
				t.Errorf("message %s delivered as %+v", name, m)
			}
		})
	}
}

// The rendered parts are kept with the queued entry: a retry sends what
// was decided, as it was decided.
func TestEntryKeepsParts(t *testing.T) {
	parts := map[string]string{"summary": "DB1 DOWN <now>", "custom_details.runbook": "https://runbooks.example/db?x=1&y=2"}
	e := Entry{ID: "o/00000001795230245000000000-0a1b2c3d", Key: "k", Channel: "pager",
		Message: MessageOf(channels.Message{Key: "k", Action: channels.Trigger, Summary: "db1 down", Parts: parts})}
	r, err := e.Record()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Data), `"parts":{"custom_details.runbook":`) {
		t.Errorf("record %s: no parts", r.Data)
	}
	es := Entries(map[string]*Record{e.ID: r})
	if len(es) != 1 {
		t.Fatalf("entries: %+v", es)
	}
	m, err := es[0].Message.Channels()
	if err != nil || !reflect.DeepEqual(m.Parts, parts) {
		t.Errorf("parts read back: %v, %v; want %v", m.Parts, err, parts)
	}
	// No parts: nothing written, as before templates.
	e.Message = MessageOf(channels.Message{Key: "k", Action: channels.Trigger, Summary: "db1 down"})
	if r, _ := e.Record(); strings.Contains(string(r.Data), "parts") {
		t.Errorf("no parts, but %s", r.Data)
	}
}
