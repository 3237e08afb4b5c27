package cmon

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"notifier/engine/event"
)

const sampleDir = "../../examples/events/cmon"

var (
	now      = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	testOpts = Options{Now: now, Host: "cc-local", Cluster: event.ClusterDefaults{ID: 1, Name: "prod-db"}}
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// disconnected is the alarm from ClusterControl's plugin announcement,
// shared by the new/update/remove samples.
func disconnected(action string, count int) event.Event {
	c := "1"
	if count == 3 {
		c = "3"
	}
	return event.Event{
		Source: "cmon", Kind: "alarm", Action: action, OK: action == "remove",
		Severity: "critical", SeverityRaw: "ALARM_CRITICAL",
		ClusterID: 1, Cluster: "prod-db", Node: "", EventType: "MySqlDisconnected",
		ID: "10736685724696984427", Name: "MySQL server disconnected",
		Message:        "Server reports: MySQL server disconnected.",
		Recommendation: "Check error log of failed mysql server.",
		Count:          count, NodeID: 1,
		Controller: "cc-local", Time: now,
		Key: "cmon/cc-local/1/10736685724696984427",
		Fields: map[string]string{
			"cid": "1", "count": c, "hostid": "4", "hostname": "", "id": "10736685724696984427",
			"message": "Server reports: MySQL server disconnected.", "name": "MySQL server disconnected",
			"nodeid": "1", "recommendation": "Check error log of failed mysql server.",
			"severity": "ALARM_CRITICAL", "type": "MySqlDisconnected",
		},
	}
}

func TestDecodeSamples(t *testing.T) {
	tests := []struct {
		file string
		want event.Event
	}{
		{"alarm-new-critical.json", disconnected("new", 1)},
		{"alarm-update-critical.json", disconnected("update", 3)},
		{"alarm-remove-critical.json", disconnected("remove", 1)},
		{"alarm-new-warning.json", event.Event{
			Source: "cmon", Kind: "alarm", Action: "new", OK: false,
			Severity: "warning", SeverityRaw: "ALARM_WARNING",
			// Cluster stays empty: the defaults name cluster 1, this is 3.
			ClusterID: 3, Cluster: "", Node: "10.10.1.21", EventType: "MySqlReplicationLag",
			ID: "4801", Name: "MySQL replication lag",
			Message:        "Server 10.10.1.21 reports: replication lag is 45 seconds.",
			Recommendation: "Check the replica's I/O and SQL threads and the network between primary and replica.",
			Count:          1, NodeID: 2,
			Controller: "cc1.example.net", Time: now,
			Key: "cmon/cc1.example.net/3/4801",
			Fields: map[string]string{
				"cid": "3", "count": "1", "hostid": "7", "hostname": "10.10.1.21", "id": "4801",
				"message": "Server 10.10.1.21 reports: replication lag is 45 seconds.",
				"name":    "MySQL replication lag", "nodeid": "2",
				"recommendation": "Check the replica's I/O and SQL threads and the network between primary and replica.",
				"severity":       "ALARM_WARNING", "type": "MySqlReplicationLag",
			},
		}},
		{"cmonalarm-object.json", event.Event{
			Source: "cmon", Kind: "alarm", Action: "new", OK: false,
			Severity: "warning", SeverityRaw: "ALARM_WARNING",
			ClusterID: 1, Cluster: "prod-db", EventType: "ClusterTimeDrift",
			ID: "1", Name: "System time is drifting",
			Message:        "System time is drifting between servers and the distance between the highest system time and lowest is more than one minute.",
			Recommendation: "Synchronize the system clock on the servers using e.g NTP or make sure NTP is working.",
			Count:          1,
			Controller:     "cc-local", Time: now,
			Key: "cmon/cc-local/1/1",
			Fields: map[string]string{
				"alarm_id": "1", "class_name": "CmonAlarm", "cluster_id": "1", "component": "3",
				"component_name": "Cluster", "counter": "1", "created": "2017-07-27T06:33:38.000Z",
				"ignored": "0", "measured": "0",
				"message":        "System time is drifting between servers and the distance between the highest system time and lowest is more than one minute.",
				"recommendation": "Synchronize the system clock on the servers using e.g NTP or make sure NTP is working.",
				"reported":       "2017-07-27T06:33:38.000Z", "severity": "1", "severity_name": "ALARM_WARNING",
				"title": "System time is drifting", "type": "40000", "type_name": "ClusterTimeDrift",
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Decode(readSample(t, tt.file), testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode mismatch\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}

	t.Run("non-alarm-message.json", func(t *testing.T) {
		_, err := Decode(readSample(t, "non-alarm-message.json"), testOpts)
		var na *NotAlarmError
		if !errors.As(err, &na) {
			t.Fatalf("err = %v, want *NotAlarmError", err)
		}
		if na.Type != "event" {
			t.Errorf("Type = %q, want %q", na.Type, "event")
		}
		if want := `cmon: message type "event" is not "alarm"`; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
}

// TestSamplesCovered fails when a sample is added without a case above.
func TestSamplesCovered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sampleDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Errorf("found %d samples in %s, TestDecodeSamples covers 6: add the new ones", len(files), sampleDir)
	}
}

func TestDecodeMaxUint64ID(t *testing.T) {
	in := `{"type":"alarm","action":"new","alarm":{"id":18446744073709551615,"cid":2,"severity":"ALARM_CRITICAL"},"cmon_hostname":"cc2"}`
	ev, err := Decode([]byte(in), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "18446744073709551615" || ev.Fields["id"] != "18446744073709551615" {
		t.Errorf("ID = %q, Fields[id] = %q, want the exact digits", ev.ID, ev.Fields["id"])
	}
	if want := "cmon/cc2/2/18446744073709551615"; ev.Key != want {
		t.Errorf("Key = %q, want %q", ev.Key, want)
	}
}

// TestDecodeAlarm covers the alarm key variants one field at a time.
func TestDecodeAlarm(t *testing.T) {
	wrap := func(alarm string) string {
		return `{"type":"alarm","action":"update","alarm":` + alarm + `}`
	}
	tests := []struct {
		name  string
		in    string
		opts  Options
		check func(event.Event) bool
	}{
		{"string id kept as given", wrap(`{"id":"0042-a"}`), testOpts,
			func(e event.Event) bool { return e.ID == "0042-a" && e.Key == "cmon/cc-local/0/0042-a" }},
		{"alarm_id inside envelope", wrap(`{"alarm_id":77,"cluster_id":5}`), testOpts,
			func(e event.Event) bool { return e.ID == "77" && e.ClusterID == 5 }},
		{"id wins over alarm_id", wrap(`{"id":1,"alarm_id":2}`), testOpts,
			func(e event.Event) bool { return e.ID == "1" }},
		{"null id falls back to alarm_id", wrap(`{"id":null,"alarm_id":2}`), testOpts,
			func(e event.Event) bool { return e.ID == "2" }},
		{"numeric severity 2", wrap(`{"id":1,"severity":2}`), testOpts,
			func(e event.Event) bool { return e.Severity == "critical" && e.SeverityRaw == "2" }},
		{"numeric severity 1", wrap(`{"id":1,"severity":1}`), testOpts,
			func(e event.Event) bool { return e.Severity == "warning" && e.SeverityRaw == "1" }},
		{"numeric severity 0", wrap(`{"id":1,"severity":0}`), testOpts,
			func(e event.Event) bool { return e.Severity == "info" && e.SeverityRaw == "0" }},
		{"severity_name wins over number", wrap(`{"id":1,"severity":1,"severity_name":"ALARM_CRITICAL"}`), testOpts,
			func(e event.Event) bool { return e.Severity == "critical" && e.SeverityRaw == "ALARM_CRITICAL" }},
		{"empty severity_name uses number", wrap(`{"id":1,"severity":2,"severity_name":""}`), testOpts,
			func(e event.Event) bool { return e.Severity == "critical" && e.SeverityRaw == "2" }},
		{"other severity string", wrap(`{"id":1,"severity":"ALARM_INFO"}`), testOpts,
			func(e event.Event) bool { return e.Severity == "info" && e.SeverityRaw == "ALARM_INFO" }},
		{"no severity", wrap(`{"id":1}`), testOpts,
			func(e event.Event) bool { return e.Severity == "info" && e.SeverityRaw == "" }},
		{"type_name when type is numeric", wrap(`{"id":1,"type":40000,"type_name":"ClusterTimeDrift"}`), testOpts,
			func(e event.Event) bool { return e.EventType == "ClusterTimeDrift" }},
		{"numeric type alone", wrap(`{"id":1,"type":40000}`), testOpts,
			func(e event.Event) bool { return e.EventType == "40000" }},
		{"title, counter, host_id", wrap(`{"id":1,"title":"T","counter":9,"host_id":12}`), testOpts,
			func(e event.Event) bool { return e.Name == "T" && e.Count == 9 && e.NodeID == 12 }},
		{"negative and large ints", wrap(`{"id":1,"count":-1,"cid":2147483647}`), testOpts,
			func(e event.Event) bool { return e.Count == -1 && e.ClusterID == 2147483647 }},
		{"field text", wrap(`{"id":1,"b":true,"f":false,"n":null,"x":1.50,"o":{"a" : [1, 2]},"a":[ ],"s":"q\"\n"}`), testOpts,
			func(e event.Event) bool {
				return reflect.DeepEqual(e.Fields, map[string]string{
					"id": "1", "b": "true", "f": "false", "n": "", "x": "1.50", "o": `{"a":[1,2]}`, "a": "[]", "s": "q\"\n",
				})
			}},
		{"cmon_hostname names the controller", `{"type":"alarm","action":"new","alarm":{"id":1,"cid":4},"cmon_hostname":"cc9"}`, testOpts,
			func(e event.Event) bool { return e.Controller == "cc9" && e.Key == "cmon/cc9/4/1" }},
		{"missing cmon_hostname uses Host", wrap(`{"id":1,"cid":4}`), testOpts,
			func(e event.Event) bool { return e.Controller == "cc-local" && e.Key == "cmon/cc-local/4/1" }},
		{"null cmon_hostname uses Host", `{"type":"alarm","action":"new","alarm":{"id":1},"cmon_hostname":null}`, testOpts,
			func(e event.Event) bool { return e.Controller == "cc-local" }},
		{"cluster default id 0 names any cluster", wrap(`{"id":1,"cid":4}`), Options{Cluster: event.ClusterDefaults{Name: "any"}},
			func(e event.Event) bool { return e.Cluster == "any" }},
		{"cluster default id matches", wrap(`{"id":1,"cid":4}`), Options{Cluster: event.ClusterDefaults{ID: 4, Name: "four"}},
			func(e event.Event) bool { return e.Cluster == "four" }},
		{"cluster default id differs", wrap(`{"id":1,"cid":4}`), Options{Cluster: event.ClusterDefaults{ID: 5, Name: "five"}},
			func(e event.Event) bool { return e.Cluster == "" }},
		{"bare object by class_name", `{"class_name":"CmonAlarm","id":5,"cluster_id":2}`, testOpts,
			func(e event.Event) bool { return e.Action == "new" && e.ID == "5" && e.Key == "cmon/cc-local/2/5" }},
		{"surrounding whitespace", "\n\t " + wrap(`{"id":1}`) + "\r\n", testOpts,
			func(e event.Event) bool { return e.ID == "1" && e.Action == "update" }},
		{"escaped NUL in a string is text, not binary", wrap(`{"id":1,"message":"a\u0000b"}`), testOpts,
			func(e event.Event) bool { return e.Message == "a\x00b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.in), tt.opts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tt.check(ev) {
				t.Errorf("unexpected event: %+v", ev)
			}
		})
	}
}
