package main

import (
	"fmt"
	"strings"
	"time"

	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/pipeline"
)

// templateSamples are the events lint renders every template with: one
// per source and kind, raised and cleared, decoded from what CMON and
// Pacemaker send, as a run decodes them. The CMON message holds quotes
// and a line break, so a JSON template that pastes text unquoted fails
// here rather than at 3 a.m. A second CMON alarm has what real ones often
// have: no host name (a cluster-wide alarm: .node is empty), no
// controller name, and a cluster id the settings give no name, so a
// template that needs a node or a cluster name fails lint too.
func templateSamples(cluster event.ClusterDefaults) ([]pipeline.Sample, error) {
	now := time.Date(2026, 3, 1, 14, 5, 9, 0, time.UTC)
	alarm := func(action string) string {
		return `{"type":"alarm","action":"` + action + `","alarm":{"cid":1,"count":3,"hostid":4,"hostname":"db1.example","id":10736685724696984427,` +
			`"message":"Server reports: \"MySQL server has gone away\".\nCheck db1.","name":"MySQL server disconnected","nodeid":1,` +
			`"recommendation":"Check error log of failed mysql server.","severity":"ALARM_CRITICAL","type":"MySqlDisconnected"},"cmon_hostname":"cc1.example"}`
	}
	hostless := func(action string) string {
		return `{"type":"alarm","action":"` + action + `","alarm":{"cid":987654,"count":1,"hostid":0,"hostname":"","id":42,` +
			`"message":"Cluster failure.","name":"Cluster failure","nodeid":0,` +
			`"recommendation":"","severity":"ALARM_WARNING","type":"ClusterFailure"},"cmon_hostname":""}`
	}
	var out []pipeline.Sample
	for _, c := range []struct{ name, action string }{{"raise", "new"}, {"clear", "remove"}} {
		for _, a := range []struct {
			name string
			json func(string) string
		}{{"a cmon alarm ", alarm}, {"a cmon alarm of no host and an unnamed cluster, ", hostless}} {
			ev, err := cmon.Decode([]byte(a.json(c.action)), cmon.Options{Now: now, Host: "cc1.example", Cluster: cluster})
			if err != nil {
				return nil, fmt.Errorf("lint: the cmon sample does not decode: %w", err)
			}
			out = append(out, pipeline.Sample{Name: a.name + c.name, Event: &ev})
		}
	}
	for _, c := range []struct{ name, env string }{
		{"node raise", "kind=node node=db2 nodeid=2 desc=lost"},
		{"node clear", "kind=node node=db2 nodeid=2 desc=member"},
		{"fencing raise", "kind=fencing node=db2 task=st_notify_fence rc=-19 desc=Operation~reboot~of~db2:~No~fence~device"},
		{"fencing clear", "kind=fencing node=db2 task=st_notify_fence rc=0 desc=Operation~reboot~of~db2:~OK"},
		{"resource raise", "kind=resource node=db1 rsc=mysql task=monitor interval=10000 rc=7 target_rc=0 status=0 desc=not~running exec_time=0"},
		{"resource clear", "kind=resource node=db1 rsc=mysql task=start interval=0 rc=0 target_rc=0 status=0 desc=ok exec_time=13"},
		{"attribute raise", "kind=attribute node=db1 nodeid=1 attribute_name=fail-count-mysql#monitor_10000 attribute_value=1"},
		{"attribute clear", "kind=attribute node=db1 nodeid=1 attribute_name=fail-count-mysql#monitor_10000 attribute_value="},
	} {
		env := map[string]string{"CRM_alert_recipient": "", "CRM_alert_version": "2.1.5", "CRM_alert_timestamp_epoch": "1772373909",
			"CRM_alert_timestamp_usec": "064636", "CRM_alert_node_sequence": "16"}
		for kv := range strings.FieldsSeq(c.env) {
			k, v, _ := strings.Cut(kv, "=")
			env["CRM_alert_"+k] = strings.ReplaceAll(v, "~", " ")
		}
		ev, err := pacemaker.Decode(env, pacemaker.Options{Host: "db1", Now: now, Cluster: cluster})
		if err != nil {
			return nil, fmt.Errorf("lint: the pacemaker %s sample does not decode: %w", c.name, err)
		}
		out = append(out, pipeline.Sample{Name: "a pacemaker " + c.name, Event: &ev})
	}
	return out, nil
}
