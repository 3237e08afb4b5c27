package pacemaker

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/engine/event"
)

const samplesDir = "../../examples/events/pacemaker"

var sampleOpts = Options{
	Host:    "vm",
	Now:     time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	Cluster: event.ClusterDefaults{ID: 7, Name: "prod-db"},
}

func loadSample(t testing.TB, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvFile(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return env
}

func sampleNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(samplesDir, "*.env"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// sampleWant is written by hand from each capture and the table in doc.go,
// not computed by the code under test.
type sampleWant struct {
	kind, action string
	ok           bool
	severity     string
	eventType    string
	key          string
	node         string
	rc, status   int
	time         string // RFC 3339 with microseconds, UTC
	myOption     string // "" = the capture has no my_option instance attribute
}

const (
	info = event.SeverityInfo
	warn = event.SeverityWarning
	crit = event.SeverityCritical
	aNew = event.ActionNew
	aUpd = event.ActionUpdate
	aRem = event.ActionRemove
	mine = "my_value"
	kp   = "pacemaker/prod-db/"
)

var sampleWants = map[string]sampleWant{
	"attribute-change.env":                            {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/my_attr", "vm", 0, 0, "2026-11-21T22:48:15.640644Z", mine},
	"attribute-fail-count-cleared.env":                {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/fail-count-d1#monitor_10000", "vm", 0, 0, "2026-11-21T22:50:01.364642Z", mine},
	"attribute-feature-set-at-startup.env":            {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/#feature-set", "vm", 0, 0, "2026-11-21T22:48:01.696644Z", mine},
	"attribute-last-failure.env":                      {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/last-failure-d1#monitor_10000", "vm", 0, 0, "2026-11-21T22:49:07.632643Z", mine},
	"attribute-set-crm_attribute-lifetime-reboot.env": {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/reboot_attr", "vm", 0, 0, "2026-11-21T22:48:24.824643Z", mine},
	"attribute-set-with-dampening.env":                {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/delayed_attr", "vm", 0, 0, "2026-11-21T22:48:34.020643Z", mine},
	"attribute-set.env":                               {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm/my_attr", "vm", 0, 0, "2026-11-21T22:48:10.544644Z", mine},
	"attribute-shutdown.env":                          {"attribute", aUpd, true, info, "attribute", kp + "attribute/vm2/shutdown", "vm2", 0, 0, "2026-11-21T22:59:22.016637Z", mine},

	"fencing-fail-no-device.env":                   {"fencing", aNew, false, crit, "fencing", kp + "fencing/nobody", "nobody", -19, 0, "2026-11-21T22:50:39.792642Z", mine},
	"fencing-off-ok-stonith_admin.env":             {"fencing", aNew, true, crit, "fencing", kp + "fencing/ghost", "ghost", 0, 0, "2026-11-21T22:50:28.460642Z", mine},
	"fencing-reboot-ok-remote-node-crash.env":      {"fencing", aNew, true, crit, "fencing", kp + "fencing/remote1", "remote1", 0, 0, "2026-11-21T22:55:32.756639Z", mine},
	"fencing-reboot-ok-self.env":                   {"fencing", aNew, true, crit, "fencing", kp + "fencing/vm", "vm", 0, 0, "2026-11-21T22:56:18.356639Z", mine},
	"fencing-reboot-ok-stonith_admin.env":          {"fencing", aNew, true, crit, "fencing", kp + "fencing/ghost", "ghost", 0, 0, "2026-11-21T22:50:22.196642Z", mine},
	"fencing-reboot-ok-unseen-peer-at-startup.env": {"fencing", aNew, true, crit, "fencing", kp + "fencing/vm2", "vm2", 0, 0, "2026-11-21T22:58:52.236637Z", mine},

	"node-lost-cluster-node-crash.env":     {"node", aNew, false, crit, "node", kp + "node/vm2", "vm2", 0, 0, "2026-11-21T23:00:01.064636Z", mine},
	"node-lost-cluster-node-graceful.env":  {"node", aNew, false, crit, "node", kp + "node/vm2", "vm2", 0, 0, "2026-11-21T22:59:30.524637Z", mine},
	"node-lost-remote-graceful.env":        {"node", aNew, false, crit, "node", kp + "node/remote1", "remote1", 0, 0, "2026-11-21T22:55:04.376639Z", mine},
	"node-lost-unseen-peer-at-startup.env": {"node", aNew, false, crit, "node", kp + "node/vm2", "vm2", 0, 0, "2026-11-21T22:58:52.232637Z", mine},
	"node-member-cluster-node.env":         {"node", aRem, true, info, "node", kp + "node/vm2", "vm2", 0, 0, "2026-11-21T22:59:06.928637Z", mine},
	"node-member-remote.env":               {"node", aRem, true, info, "node", kp + "node/remote1", "remote1", 0, 0, "2026-11-21T22:54:53.984639Z", mine},

	"resource-monitor-cancelled.env":                         {"resource", aUpd, false, info, "resource_monitor", kp + "resource/vm/d1", "vm", 0, 1, "2026-11-21T22:49:44.608643Z", mine},
	"resource-monitor-fail.env":                              {"resource", aNew, false, warn, "resource_monitor", kp + "resource/vm/d1", "vm", 7, 0, "2026-11-21T22:49:07.596643Z", mine},
	"resource-monitor-ok-first-recurring.env":                {"resource", aRem, true, info, "resource_monitor", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:48:42.140643Z", mine},
	"resource-on-remote-node-start-ok.env":                   {"resource", aRem, true, info, "resource_start", kp + "resource/remote1/d5", "remote1", 0, 0, "2026-11-21T22:55:21.408639Z", mine},
	"resource-recovery-start-after-monitor-fail.env":         {"resource", aRem, true, info, "resource_start", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:49:07.956643Z", mine},
	"resource-recovery-stop-after-monitor-fail.env":          {"resource", aUpd, true, info, "resource_stop", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:49:07.868643Z", mine},
	"resource-start-agent-killed-by-default-timeout-30s.env": {"resource", aRem, true, info, "resource_start", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:53:05.640641Z", ""},
	"resource-start-agent-killed-by-timeout-3s.env":          {"resource", aRem, true, info, "resource_start", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:52:09.228641Z", "overridden for r2"},
	"resource-start-fail.env":                                {"resource", aNew, false, warn, "resource_start", kp + "resource/vm/d2", "vm", 1, 0, "2026-11-21T22:49:18.564643Z", mine},
	"resource-start-ok-recipient1-tsformat-ms.env":           {"resource", aRem, true, info, "resource_start", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:51:45.604641Z", "my value"},
	"resource-start-ok.env":                                  {"resource", aRem, true, info, "resource_start", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:48:42.124643Z", mine},
	"resource-stonith-device-start-ok.env":                   {"resource", aRem, true, info, "resource_start", kp + "resource/vm/fence1", "vm", 0, 0, "2026-11-21T22:50:12.140642Z", mine},
	"resource-stop-after-start-fail.env":                     {"resource", aUpd, true, info, "resource_stop", kp + "resource/vm/d2", "vm", 0, 0, "2026-11-21T22:49:18.684643Z", mine},
	"resource-stop-ok.env":                                   {"resource", aUpd, true, info, "resource_stop", kp + "resource/vm/d1", "vm", 0, 0, "2026-11-21T22:49:44.632643Z", mine},
}

// defaultTimestamp is Pacemaker's default timestamp-format, %H:%M:%S.%06N;
// the captures were made in UTC, so it checks Time independently.
var defaultTimestamp = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6}$`)

func TestDecodeSamples(t *testing.T) {
	names := sampleNames(t)
	if len(names) != 34 || len(names) != len(sampleWants) {
		t.Fatalf("%d samples on disk, %d expectations: keep them in step", len(names), len(sampleWants))
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".env"), func(t *testing.T) {
			want, ok := sampleWants[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			env := loadSample(t, name)
			if !Detect(env) {
				t.Fatal("Detect = false")
			}
			ev, err := Decode(env, sampleOpts)
			if err != nil {
				t.Fatal(err)
			}
			wantTime, err := time.Parse(time.RFC3339Nano, want.time)
			if err != nil {
				t.Fatal(err)
			}
			got := sampleWant{ev.Kind, ev.Action, ev.OK, ev.Severity, ev.EventType, ev.Key, ev.Node, ev.RC, ev.Status, ev.Time.Format(time.RFC3339Nano), ev.Fields["my_option"]}
			want.time = wantTime.Format(time.RFC3339Nano)
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if !ev.Time.Equal(wantTime) {
				t.Errorf("time = %v, want %v", ev.Time, wantTime)
			}
			if ts := env["CRM_alert_timestamp"]; defaultTimestamp.MatchString(ts) && ev.Time.UTC().Format("15:04:05.000000") != ts {
				t.Errorf("time %v disagrees with CRM_alert_timestamp %q", ev.Time, ts)
			}

			checkPlainFields(t, env, ev)
			checkFieldSet(t, env, ev.Fields)
		})
	}
}

// checkPlainFields checks the one-to-one copies of the CRM variables.
func checkPlainFields(t *testing.T, env map[string]string, ev event.Event) {
	t.Helper()
	atoi := func(k string) int {
		if env[k] == "" {
			return 0
		}
		n, err := strconv.Atoi(env[k])
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return n
	}
	strs := []struct{ name, got, want string }{
		{"source", ev.Source, "pacemaker"},
		{"task", ev.Task, env["CRM_alert_task"]},
		{"rsc", ev.Rsc, env["CRM_alert_rsc"]},
		{"desc", ev.Desc, env["CRM_alert_desc"]},
		{"message", ev.Message, env["CRM_alert_desc"]},
		{"recipient", ev.Recipient, env["CRM_alert_recipient"]},
		{"attribute_name", ev.AttributeName, env["CRM_alert_attribute_name"]},
		{"attribute_value", ev.AttributeValue, env["CRM_alert_attribute_value"]},
		{"controller", ev.Controller, sampleOpts.Host},
		{"cluster", ev.Cluster, "prod-db"},
		{"id", ev.ID, strings.TrimPrefix(ev.Key, kp)},
		{"name", ev.Name, ""},
		{"recommendation", ev.Recommendation, ""},
		{"severity_raw", ev.SeverityRaw, ""},
	}
	for _, s := range strs {
		if s.got != s.want {
			t.Errorf("%s = %q, want %q", s.name, s.got, s.want)
		}
	}
	ints := []struct {
		name      string
		got, want int
	}{
		{"target_rc", ev.TargetRC, atoi("CRM_alert_target_rc")},
		{"interval_ms", ev.IntervalMS, atoi("CRM_alert_interval")},
		{"node_id", ev.NodeID, atoi("CRM_alert_nodeid")},
		{"cluster_id", ev.ClusterID, 7},
		{"count", ev.Count, 1},
	}
	for _, n := range ints {
		if n.got != n.want {
			t.Errorf("%s = %d, want %d", n.name, n.got, n.want)
		}
	}
}

// checkFieldSet: fields are exactly the CRM_alert_* variables and the
// instance attributes, with their raw values.
func checkFieldSet(t *testing.T, env, got map[string]string) {
	t.Helper()
	want := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "CRM_alert_") || k == "my_option" {
			want[k] = v
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %v\nwant %v", sortedKeys(got), sortedKeys(want))
	}
	for _, k := range []string{"PATH", "PWD", "LANG", "LC_ALL", "HA_mcp", "PCMK_service", "OCF_OUTPUT_FORMAT", "VALGRIND_OPTS", "CRM_notify_kind"} {
		if _, ok := got[k]; ok {
			t.Errorf("fields has inherited %s", k)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// without returns env minus the variables whose names start with prefix.
func without(env map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// Pacemaker < 1.1.15 sends only CRM_notify_*, 3.0 only CRM_alert_*: the
// event must not depend on which, apart from the raw names in fields.
func TestDecodePrefixVariants(t *testing.T) {
	for _, name := range sampleNames(t) {
		t.Run(strings.TrimSuffix(name, ".env"), func(t *testing.T) {
			env := loadSample(t, name)
			both, err := Decode(env, sampleOpts)
			if err != nil {
				t.Fatal(err)
			}

			v3, err := Decode(without(env, "CRM_notify_"), sampleOpts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v3, both) {
				t.Errorf("CRM_alert_* only:\n got %+v\nwant %+v", v3, both)
			}

			notifyEnv := without(env, "CRM_alert_")
			if !Detect(notifyEnv) {
				t.Fatal("Detect(CRM_notify_* only) = false")
			}
			old, err := Decode(notifyEnv, sampleOpts)
			if err != nil {
				t.Fatal(err)
			}
			if old.Fields["CRM_notify_kind"] != both.Kind || old.Fields["my_option"] != both.Fields["my_option"] {
				t.Errorf("CRM_notify_* only: fields = %v", sortedKeys(old.Fields))
			}
			for k := range old.Fields {
				if strings.HasPrefix(k, "CRM_alert_") || k == "PATH" || strings.HasPrefix(k, "HA_") {
					t.Errorf("CRM_notify_* only: fields has %s", k)
				}
			}
			old.Fields, both.Fields = nil, nil
			if !reflect.DeepEqual(old, both) {
				t.Errorf("CRM_notify_* only:\n got %+v\nwant %+v", old, both)
			}
		})
	}
}
