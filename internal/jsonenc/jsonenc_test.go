package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var strs = []string{"", "plain", `q"uo\te`, "<a href='x'>&</a>", "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
	"é ü 漢字 🚨", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xe2\x82", "end\\"}

func TestStringIsMarshal(t *testing.T) {
	for _, s := range strs {
		if got, want := String(nil, s), marshal(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, json.Marshal %s", s, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String([]byte("x"), s), append([]byte("x"), marshal(t, s)...); !bytes.Equal(got, want) {
			t.Fatalf("String(%q) = %s, json.Marshal %s", s, got, want)
		}
	})
}

func TestTimeIsMarshal(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 30*60))
	for _, tm := range []time.Time{{}, time.Unix(0, 1).UTC(), time.Date(2026, 12, 5, 4, 5, 6, 123456789, zone), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
		got, ok := Time(nil, tm)
		if want := marshal(t, tm); !ok || !bytes.Equal(got, want) {
			t.Errorf("Time(%v) = %s, %v; json.Marshal %s", tm, got, ok, want)
		}
	}
	bad := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("json.Marshal accepts the year 10000: the test's premise is gone")
	}
	if got, ok := Time([]byte("ab"), bad); ok || string(got) != "ab" {
		t.Errorf("Time(year 10000) = %q, %v; want refused, b unchanged", got, ok)
	}
}

func TestMapIsMarshal(t *testing.T) {
	for _, m := range []map[string]string{{}, {"b": "2", "a": "1", "<": "&"}, {"CRM_alert_node": "n1", "CRM_alert_kind": "node"}} {
		if got, want := Map(nil, m), marshal(t, m); !bytes.Equal(got, want) {
			t.Errorf("Map(%v) = %s, json.Marshal %s", m, got, want)
		}
	}
}

func TestKeyAndInt(t *testing.T) {
	b := []byte("{")
	b = Int(Key(b, "a"), -3)
	b = String(Key(b, "b"), "x")
	if got := string(append(b, '}')); got != `{"a":-3,"b":"x"}` {
		t.Errorf("got %s", got)
	}
}
