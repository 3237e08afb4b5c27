package state

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The hand-written encoders of encode.go write what json.Marshal writes,
// byte for byte, for every value: each kind is checked on values made of
// the awkward parts of JSON (every ASCII byte, HTML characters, invalid
// UTF-8, U+2028 and U+2029, empty and nil, zero and far times, zones).
func TestEncodeJSONIsJSONMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	pieces := []string{"", "a", "cmon/ctl/1/42", `"`, `\`, "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f",
		"\x7f", " ", "/", "é", "日本", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "😀", "\U0010ffff", "\ufffd"}
	str := func() string {
		if rng.IntN(4) == 0 {
			return ""
		}
		var b []byte
		for range rng.IntN(6) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		return string(b)
	}
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", 5*3600+30*60), time.FixedZone("X", -7*3600), time.FixedZone("odd", 3600+23)}
	when := func() time.Time {
		switch rng.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Now() // with a monotonic reading
		case 2:
			return time.Date(9999, 12, 31, 23, 59, 59, 999999999, zones[rng.IntN(len(zones))])
		}
		return time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	num := func() int {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return -rng.IntN(1000)
		case 2:
			return math.MaxInt
		}
		return rng.IntN(1000)
	}
	strs := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+rng.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	check := func(t *testing.T, v any, got []byte, err error) {
		t.Helper()
		want, werr := json.Marshal(v)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%#v:\n got %s (%v)\nwant %s (%v)", v, got, err, want, werr)
		}
	}
	for range 1500 {
		h := HistoryEntry{Time: when(), Key: str(), Source: str(), EventType: str(), Severity: str(), Action: str(), Rule: str(),
			Channel: str(), Delivery: str(), Outcome: Outcome(str()), Reason: str(), Attempts: num()}
		got, err := encodeJSON(&h)
		check(t, h, got, err)

		d := Decided{Entry: str(), Key: str(), Decided: when()}
		got, err = encodeJSON(&d)
		check(t, d, got, err)

		w := Window{LastNotified: when(), Suppressed: num(), First: when(), Count: num(), Escalated: rng.IntN(2) == 0, Policy: str(),
			Live: num(), EscalationLive: num()}
		got, err = encodeJSON(&w)
		check(t, w, got, err)

		inc := Incident{Key: str(), Opened: when(), Windows: strs(), Policy: str(), Groups: []GroupRef{{ID: str(), Key: str()}}}
		switch rng.IntN(3) {
		case 0: // nil: null
		case 1:
			inc.Told = []Told{}
		default:
			for range 1 + rng.IntN(3) {
				inc.Told = append(inc.Told, Told{Channel: str(), Type: str(), Ref: str(), Queued: num(), Rule: str()})
			}
		}
		got, err = encodeJSON(&inc)
		check(t, inc, got, err)
	}
	// Every kind's record, through Encode, is json.Marshal's too.
	rec, err := HistoryKind.Encode(HistoryEntry{Key: "k", Outcome: OutcomeFirst}, time.Time{})
	check(t, HistoryEntry{Key: "k", Outcome: OutcomeFirst}, rec.Data, err)
	rec, err = FailureKind.Encode(Failure{Channel: "<pager>"}, time.Time{}) // no encoder of its own
	check(t, Failure{Channel: "<pager>"}, rec.Data, err)
}

// A time json.Marshal refuses is refused with json.Marshal's error.
func TestEncodeJSONRefusesAsJSONMarshal(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []any{&HistoryEntry{Time: far}, &Decided{Decided: far}, &Window{First: far}, &Incident{Opened: far}} {
		var got []byte
		var err error
		switch p := v.(type) {
		case *HistoryEntry:
			got, err = encodeJSON(p)
		case *Decided:
			got, err = encodeJSON(p)
		case *Window:
			got, err = encodeJSON(p)
		case *Incident:
			got, err = encodeJSON(p)
		}
		_, want := json.Marshal(v)
		if got != nil || err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("%T: %q, %v; want json.Marshal's error %v", v, got, err, want)
		}
	}
}
