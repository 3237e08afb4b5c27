package pacemaker

import (
	"maps"
	"testing"
	"time"

	"notifier/engine/event"
)

// resourceEnv is a minimal CRM_alert_* resource alert.
func resourceEnv(task, rc, targetRC, status string) map[string]string {
	return map[string]string{
		"CRM_alert_kind":            "resource",
		"CRM_alert_node":            "db1",
		"CRM_alert_rsc":             "mysql",
		"CRM_alert_task":            task,
		"CRM_alert_rc":              rc,
		"CRM_alert_target_rc":       targetRC,
		"CRM_alert_status":          status,
		"CRM_alert_interval":        "0",
		"CRM_alert_timestamp_epoch": "1795301347",
		"CRM_alert_timestamp_usec":  "000001",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// The rows of the table in doc.go that the samples do not reach.
func TestDeriveTable(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		ok       bool
		action   string
		severity string
	}{
		{"cancelled with stale failing rc", resourceEnv("monitor", "7", "0", "1"), false, event.ActionUpdate, event.SeverityInfo},
		{"cancelled stop", resourceEnv("stop", "0", "0", "1"), false, event.ActionUpdate, event.SeverityInfo},
		{"failed stop", resourceEnv("stop", "1", "0", "0"), false, event.ActionNew, event.SeverityCritical},
		{"stop timed out", resourceEnv("stop", "0", "0", "2"), false, event.ActionNew, event.SeverityCritical},
		{"start timed out", resourceEnv("start", "0", "0", "2"), false, event.ActionNew, event.SeverityWarning},
		{"not installed", resourceEnv("start", "5", "0", "7"), false, event.ActionNew, event.SeverityWarning},
		{"probe finds it stopped as expected", resourceEnv("monitor", "7", "7", "0"), true, event.ActionRemove, event.SeverityInfo},
		{"probe finds it running unexpectedly", resourceEnv("monitor", "0", "7", "0"), false, event.ActionNew, event.SeverityWarning},
		{"promote ok", resourceEnv("promote", "0", "0", "0"), true, event.ActionRemove, event.SeverityInfo},
		{"demote failed", resourceEnv("demote", "1", "0", "0"), false, event.ActionNew, event.SeverityWarning},
		{"node with unknown desc", map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "db2", "CRM_alert_desc": ""}, false, event.ActionNew, event.SeverityCritical},
		{"fencing timed out", map[string]string{"CRM_alert_kind": "fencing", "CRM_alert_node": "db2", "CRM_alert_rc": "-62"}, false, event.ActionNew, event.SeverityCritical},
		{"attribute deleted", map[string]string{"CRM_alert_kind": "attribute", "CRM_alert_node": "db2", "CRM_alert_attribute_name": "x"}, true, event.ActionUpdate, event.SeverityInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.env, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if ev.OK != tt.ok || ev.Action != tt.action || ev.Severity != tt.severity {
				t.Errorf("ok/action/severity = %v/%s/%s, want %v/%s/%s", ev.OK, ev.Action, ev.Severity, tt.ok, tt.action, tt.severity)
			}
		})
	}
}

// Every node raises its own copy of a node or fencing alert, with its
// own host, node_sequence, recipient and time: one key for all of them.
func TestKeyIgnoresReporter(t *testing.T) {
	env := loadSample(t, "node-lost-cluster-node-crash.env")
	copies := []struct {
		host string
		env  map[string]string
	}{
		{"vm", env},
		{"vm3", with(env, "CRM_alert_node_sequence", "77", "CRM_notify_node_sequence", "77")},
		{"vm4", with(env, "CRM_alert_recipient", "/var/log/alerts.log", "CRM_alert_timestamp_epoch", "1795302002", "CRM_alert_timestamp_usec", "000007")},
	}
	var keys []string
	for _, c := range copies {
		ev, err := Decode(c.env, Options{Host: c.host, Cluster: event.ClusterDefaults{Name: "prod-db"}})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Controller != c.host {
			t.Errorf("controller = %q, want %q", ev.Controller, c.host)
		}
		keys = append(keys, ev.Key)
	}
	for _, k := range keys {
		if k != "pacemaker/prod-db/node/vm2" {
			t.Errorf("keys = %q, want all pacemaker/prod-db/node/vm2", keys)
			break
		}
	}
}

// A failure and the recovery that clears it must share a key, or the
// resolve would never reach the incident.
func TestFailureAndRecoveryShareKey(t *testing.T) {
	fail, err := Decode(loadSample(t, "resource-monitor-fail.env"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	recovered, err := Decode(loadSample(t, "resource-recovery-start-after-monitor-fail.env"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fail.Key != recovered.Key || fail.Key != "pacemaker/default/resource/vm/d1" {
		t.Errorf("keys %q and %q, want both pacemaker/default/resource/vm/d1", fail.Key, recovered.Key)
	}
	if fail.Action != event.ActionNew || recovered.Action != event.ActionRemove {
		t.Errorf("actions %s then %s, want new then remove", fail.Action, recovered.Action)
	}
}

func TestCluster(t *testing.T) {
	base := loadSample(t, "node-lost-cluster-node-crash.env")
	tests := []struct {
		name     string
		defaults event.ClusterDefaults
		env      map[string]string
		cluster  string
		id       int
		key      string
	}{
		{"settings name and id", event.ClusterDefaults{ID: 7, Name: "prod-db"}, base, "prod-db", 7, "pacemaker/prod-db/node/vm2"},
		{"settings id only", event.ClusterDefaults{ID: 7}, base, "", 7, "pacemaker/7/node/vm2"},
		{"nothing configured", event.ClusterDefaults{}, base, "", 0, "pacemaker/default/node/vm2"},
		{"instance attribute name wins", event.ClusterDefaults{ID: 7, Name: "prod-db"}, with(base, "NOTIFIER_CLUSTER", "eu-db"), "eu-db", 7, "pacemaker/eu-db/node/vm2"},
		{"instance attribute id wins", event.ClusterDefaults{ID: 7}, with(base, "NOTIFIER_CLUSTER_ID", "12"), "", 12, "pacemaker/12/node/vm2"},
		{"both instance attributes", event.ClusterDefaults{}, with(base, "NOTIFIER_CLUSTER", "eu-db", "NOTIFIER_CLUSTER_ID", "12"), "eu-db", 12, "pacemaker/eu-db/node/vm2"},
		{"empty instance attributes are unset", event.ClusterDefaults{ID: 7, Name: "prod-db"}, with(base, "NOTIFIER_CLUSTER", "", "NOTIFIER_CLUSTER_ID", ""), "prod-db", 7, "pacemaker/prod-db/node/vm2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.env, Options{Cluster: tt.defaults})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Cluster != tt.cluster || ev.ClusterID != tt.id || ev.Key != tt.key {
				t.Errorf("cluster/id/key = %q/%d/%q, want %q/%d/%q", ev.Cluster, ev.ClusterID, ev.Key, tt.cluster, tt.id, tt.key)
			}
			if v, ok := tt.env["NOTIFIER_CLUSTER"]; ok && ev.Fields["NOTIFIER_CLUSTER"] != v {
				t.Errorf("NOTIFIER_CLUSTER missing from fields")
			}
		})
	}
}

func TestTime(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	base := loadSample(t, "resource-start-ok.env")
	drop := func(env map[string]string, keys ...string) map[string]string {
		out := maps.Clone(env)
		for _, k := range keys {
			delete(out, k)
			delete(out, "CRM_notify_"+k[len("CRM_alert_"):])
		}
		return out
	}
	tests := []struct {
		name string
		env  map[string]string
		want time.Time
	}{
		{"epoch and usec", base, time.Date(2026, 11, 21, 22, 48, 42, 124643000, time.UTC)},
		{"usec with leading zeros", with(base, "CRM_alert_timestamp_usec", "000064"), time.Date(2026, 11, 21, 22, 48, 42, 64000, time.UTC)},
		{"no usec", drop(base, "CRM_alert_timestamp_usec"), time.Date(2026, 11, 21, 22, 48, 42, 0, time.UTC)},
		{"no epoch", drop(base, "CRM_alert_timestamp_epoch"), now},
		{"neither", drop(base, "CRM_alert_timestamp_epoch", "CRM_alert_timestamp_usec"), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.env, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Time.Equal(tt.want) {
				t.Errorf("time = %v, want %v", ev.Time, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	res := resourceEnv("start", "0", "0", "0")
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no kind", map[string]string{"PATH": "/bin"}, "pacemaker: neither CRM_alert_kind nor CRM_notify_kind is set"},
		{"unknown kind", with(res, "CRM_alert_kind", "quorum"), `pacemaker: CRM_alert_kind: unknown kind "quorum" (want node, fencing, resource or attribute)`},
		{"empty kind", with(res, "CRM_alert_kind", ""), `pacemaker: CRM_alert_kind: unknown kind "" (want node, fencing, resource or attribute)`},
		{"unknown notify kind", map[string]string{"CRM_notify_kind": "Resource"}, `pacemaker: CRM_notify_kind: unknown kind "Resource" (want node, fencing, resource or attribute)`},
		{"bad rc", with(res, "CRM_alert_rc", "x"), `pacemaker: CRM_alert_rc: "x" is not an integer`},
		{"bad target_rc", with(res, "CRM_alert_target_rc", "0.0"), `pacemaker: CRM_alert_target_rc: "0.0" is not an integer`},
		{"bad status", with(res, "CRM_alert_status", " 0"), `pacemaker: CRM_alert_status: " 0" is not an integer`},
		{"bad interval", with(res, "CRM_alert_interval", "10s"), `pacemaker: CRM_alert_interval: "10s" is not an integer`},
		{"bad nodeid", with(res, "CRM_alert_nodeid", "one"), `pacemaker: CRM_alert_nodeid: "one" is not an integer`},
		{"empty rc", with(res, "CRM_alert_rc", ""), `pacemaker: CRM_alert_rc: "" is not an integer`},
		{"rc overflows", with(res, "CRM_alert_rc", "99999999999999999999"), `pacemaker: CRM_alert_rc: "99999999999999999999" is not an integer`},
		{"bad epoch", with(res, "CRM_alert_timestamp_epoch", "22:48:42"), `pacemaker: CRM_alert_timestamp_epoch: "22:48:42" is not an integer`},
		{"bad usec", with(res, "CRM_alert_timestamp_usec", "12a"), `pacemaker: CRM_alert_timestamp_usec: "12a" is not an integer`},
		{"usec out of range", with(res, "CRM_alert_timestamp_usec", "1000000"), `pacemaker: CRM_alert_timestamp_usec: 1000000 is out of range 0-999999`},
		{"bad notify rc", map[string]string{"CRM_notify_kind": "fencing", "CRM_notify_rc": "-x"}, `pacemaker: CRM_notify_rc: "-x" is not an integer`},
		{"bad cluster id", with(res, "NOTIFIER_CLUSTER_ID", "prod"), `pacemaker: NOTIFIER_CLUSTER_ID: "prod" is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.env, Options{})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\n want %q", err, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"CRM_alert_kind", map[string]string{"CRM_alert_kind": "node"}, true},
		{"CRM_notify_kind", map[string]string{"CRM_notify_kind": "node"}, true},
		{"set but empty", map[string]string{"CRM_alert_kind": ""}, true},
		{"other CRM vars only", map[string]string{"CRM_alert_node": "vm", "CRM_alert_rc": "0"}, false},
		{"plain shell", map[string]string{"PATH": "/bin", "HOME": "/root"}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.env); got != tt.want {
				t.Errorf("Detect = %v, want %v", got, tt.want)
			}
		})
	}
}

// Whatever the agent inherits from pacemakerd or systemd stays out of
// fields; the alert's own variables and instance attributes stay in.
func TestFieldsFilter(t *testing.T) {
	env := map[string]string{
		"CRM_alert_kind": "node", "CRM_alert_node": "vm2", "CRM_notify_kind": "node",
		"my_option": "v", "NOTIFIER_CLUSTER": "c", "PATHS": "kept: not PATH", "LCX": "kept: not LC_*",
	}
	for _, k := range []string{"PATH", "PWD", "HOME", "SHELL", "USER", "LOGNAME", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
		"HA_mcp", "PCMK_debug", "OCF_ROOT", "VALGRIND_OPTS", "NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM",
		"SYSTEMD_EXEC_PID", "LISTEN_FDS", "MAIL", "OLDPWD", "SHLVL", "_"} {
		env[k] = "inherited"
	}
	ev, err := Decode(env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "vm2", "my_option": "v",
		"NOTIFIER_CLUSTER": "c", "PATHS": "kept: not PATH", "LCX": "kept: not LC_*"}
	if !maps.Equal(ev.Fields, want) {
		t.Errorf("fields = %v, want %v", ev.Fields, want)
	}
}
