package cmon

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	env := func(alarm string) string {
		return `{"type":"alarm","action":"new","alarm":` + alarm + `}`
	}
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "cmon: empty input"},
		{"whitespace only", " \n\t\r\n", "cmon: input is only whitespace"},
		{"truncated", `{"type":"alarm","action":"new","alarm":{"id":1`,
			"cmon: truncated JSON: input ends at byte offset 46"},
		{"truncated in a string", `{"type":"al`, "cmon: truncated JSON: input ends at byte offset 11"},
		{"truncated literal", `nul`, "cmon: truncated JSON: input ends at byte offset 3"},
		{"syntax error", `{"id":1,}`,
			"cmon: invalid JSON at byte offset 8: invalid character '}' looking for beginning of object key string"},
		{"trailing garbage", env(`{"id":1}`) + " x\n",
			`cmon: trailing data after the JSON object at byte offset 49: "x\n"`},
		{"second object", env(`{"id":1}`) + `{}`,
			`cmon: trailing data after the JSON object at byte offset 48: "{}"`},
		{"duplicate action", `{"type":"alarm","action":"remove","alarm":{"id":1},"action":"new"}`,
			`cmon: invalid JSON: duplicate key "action" at byte offset 51`},
		{"duplicate in the alarm", env(`{"id":1,"severity":"ALARM_WARNING","severity":"ALARM_CRITICAL"}`),
			`cmon: invalid JSON: duplicate key "severity" in alarm at byte offset 74`},
		{"NUL byte", "{\"type\":\x00}", "cmon: binary input: NUL byte at offset 8"},
		{"invalid UTF-8", "{\"type\":\"\xff\xfe\"}", "cmon: binary input: invalid UTF-8 at offset 9"},
		{"gzip magic", "\x1f\x8b\x08\x00", "cmon: binary input: NUL byte at offset 3"},
		{"array", `[{"type":"alarm"}]`, "cmon: input is a JSON array, not an object"},
		{"string", `"alarm"`, "cmon: input is a JSON string, not an object"},
		{"number", `42`, "cmon: input is a JSON number, not an object"},
		{"null", `null`, "cmon: input is a JSON null, not an object"},
		{"boolean", `true`, "cmon: input is a JSON boolean, not an object"},
		{"no type", `{"action":"new"}`, `cmon: not a CMON message: no "type"`},
		{"type not a string", `{"type":1,"alarm":{}}`, "cmon: type: 1 is not a string"},
		{"action delete", `{"type":"alarm","action":"delete","alarm":{"id":1}}`,
			`cmon: action "delete" is not one of new, update, remove`},
		{"action missing", `{"type":"alarm","alarm":{"id":1}}`, "cmon: action is missing"},
		{"action not a string", `{"type":"alarm","action":["new"],"alarm":{"id":1}}`,
			"cmon: action: a JSON array is not a string"},
		{"action long with newline", `{"type":"alarm","action":"a\n` + long + `","alarm":{"id":1}}`,
			`cmon: action "a\n` + long[:62] + `"... is not one of new, update, remove`},
		{"alarm missing", `{"type":"alarm","action":"new"}`, "cmon: alarm is missing"},
		{"alarm array", env(`[1]`), "cmon: alarm is a JSON array, not an object"},
		{"alarm string", env(`"x"`), "cmon: alarm is a JSON string, not an object"},
		{"alarm null", env(`null`), "cmon: alarm is a JSON null, not an object"},
		{"id missing", env(`{"cid":1}`), "cmon: alarm.id is missing"},
		{"id null", env(`{"id":null}`), "cmon: alarm.id is missing"},
		{"id empty", env(`{"id":""}`), "cmon: alarm.id is empty"},
		{"id fraction", env(`{"id":1.5}`), "cmon: alarm.id: 1.5 is not an integer"},
		{"id boolean", env(`{"id":true}`), "cmon: alarm.id: true is not an integer or string"},
		{"bare id missing", `{"class_name":"CmonAlarm"}`, "cmon: id is missing"},
		{"cid string", env(`{"id":1,"cid":"x"}`), `cmon: alarm.cid: "x" is not an integer`},
		{"cid digits in a string", env(`{"id":1,"cid":"3"}`), `cmon: alarm.cid: "3" is not an integer`},
		{"cid fraction", env(`{"id":1,"cid":1.5}`), "cmon: alarm.cid: 1.5 is not an integer"},
		{"count exponent", env(`{"id":1,"count":1e3}`), "cmon: alarm.count: 1e3 is not an integer"},
		{"nodeid out of range", env(`{"id":1,"nodeid":99999999999999999999}`),
			"cmon: alarm.nodeid: 99999999999999999999 is out of range"},
		{"host_id object", env(`{"id":1,"host_id":{}}`), "cmon: alarm.host_id: a JSON object is not an integer"},
		{"cluster_id boolean bare", `{"alarm_id":1,"cluster_id":false}`, "cmon: cluster_id: false is not an integer"},
		{"counter long string", env(`{"id":1,"counter":"` + long + `"}`),
			`cmon: alarm.counter: "` + long[:64] + `"... is not an integer`},
		{"severity fraction", env(`{"id":1,"severity":2.0}`), "cmon: alarm.severity: 2.0 is not an integer"},
		{"severity boolean", env(`{"id":1,"severity":true}`), "cmon: alarm.severity: true is not a string or integer"},
		{"severity_name number", env(`{"id":1,"severity_name":2}`), "cmon: alarm.severity_name: 2 is not a string"},
		{"hostname number", env(`{"id":1,"hostname":5}`), "cmon: alarm.hostname: 5 is not a string"},
		{"message object", env(`{"id":1,"message":{"a":1}}`), "cmon: alarm.message: a JSON object is not a string"},
		{"type boolean", env(`{"id":1,"type":true}`), "cmon: alarm.type: true is not a string"},
		{"cmon_hostname number", `{"type":"alarm","action":"new","alarm":{"id":1},"cmon_hostname":5}`,
			"cmon: cmon_hostname: 5 is not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.in), testOpts)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want error %q", ev, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			var na *NotAlarmError
			if errors.As(err, &na) {
				t.Errorf("bad input reported as NotAlarmError: %v", err)
			}
		})
	}
}

// TestNotAlarm: any well-formed non-alarm type is NotAlarmError, even with
// an action or payload the alarm path would reject.
func TestNotAlarm(t *testing.T) {
	for _, in := range []string{
		`{"type":"event","action":"whatever"}`,
		`{"type":"","alarm":"x"}`,
		`{"type":"Alarm","action":"new","alarm":{"id":1}}`,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := Decode([]byte(in), testOpts)
			var na *NotAlarmError
			if !errors.As(err, &na) {
				t.Fatalf("err = %v, want *NotAlarmError", err)
			}
		})
	}
}
