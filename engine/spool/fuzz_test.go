package spool

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeEntry: no input makes the decoder panic or exceed its cap,
// and whatever it accepts is an entry Put could have written, which
// reads back the same.
func FuzzDecodeEntry(f *testing.F) {
	e := testEntry(1)
	e.V, e.ID, e.Received = Version, NewID(time.Unix(1700000000, 5)), time.Unix(1700000000, 5).UTC()
	good, err := e.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	pm := testEntry(2)
	pm.V, pm.ID, pm.Received = Version, NewID(time.Unix(1700000001, 0)), time.Unix(1700000001, 0).UTC()
	pm.Input = Input{Source: InputPacemaker, Env: map[string]string{"CRM_alert_kind": "node"}, Host: "n"}
	if pm2, err := pm.encode(); err == nil {
		f.Add(pm2)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"id":"../x","policy":"/p","event":{"key":"k"},"occurrence":"","received":"2026-01-01T00:00:00Z","source":""}`))
	f.Add([]byte(`{"v":1,"v":1}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEntry(data)
		if err != nil {
			return
		}
		if len(data) > MaxEntrySize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if !ValidID(e.ID) {
			t.Fatalf("accepted id %q", e.ID)
		}
		again, err := e.encode()
		if err != nil {
			t.Fatalf("accepted %q, which Put would refuse: %v", data, err)
		}
		e2, err := DecodeEntry(again)
		if err != nil {
			t.Fatalf("re-encoded entry refused: %v\n%s", err, again)
		}
		third, _ := json.Marshal(e2)
		if !bytes.Equal(again, third) {
			t.Fatalf("entry changed on reading back:\n%s\n%s", again, third)
		}
	})
}
