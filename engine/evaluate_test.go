package engine

import (
	"strings"
	"testing"
	"time"

	"notifier/engine/event"
)

const evalPolicy = `
channels:
  pager: {type: pagerduty}
  ops: {type: slack}
  local: {type: syslog}
windows:
  business-hours: {timezone: Europe/Stockholm, weekdays: [mon-fri], times: ["09:00-17:00"]}
rules:
  - name: pacemaker-noise
    when: source == "pacemaker" && (status == 1 || (kind == "resource" && task == "monitor" && ok))
    drop: true
  - name: broken-at-runtime
    when: int(fields["missing"]) > 3
    notify: [pager]
  - name: critical
    when: rank(severity) >= rank("critical")
    notify: [pager, ops]
    continue: true
  - name: critical-log
    when: severity == "critical"
    notify: [local, ops]
  - name: quiet-warnings
    when: severity == "warning" && cluster == "staging"
    notify: [ops]
    muted_during: [business-hours]
  - name: office-warnings
    when: severity == "warning"
    notify: [ops]
    active_during: [business-hours]
  - name: everything-else
    when: "true"
    notify: [local]
`

func TestEvaluate(t *testing.T) {
	p, ps := compileOne(t, evalPolicy)
	if p == nil {
		t.Fatal(ps)
	}
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	sunday := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		ev         event.Event
		dropped    bool
		deliveries string // channel:action:rule, comma separated
		muted      string
		matched    string // names of matched rules
	}{
		{"noise dropped", event.Event{Source: "pacemaker", Kind: "resource", Task: "monitor", OK: true, Severity: "info", Action: "remove"}, true, "", "", "pacemaker-noise"},
		{"cancelled dropped", event.Event{Source: "pacemaker", Kind: "resource", Status: 1, Severity: "info", Action: "update"}, true, "", "", "pacemaker-noise"},
		{"critical continues, channels deduplicated", event.Event{Source: "cmon", Severity: "critical", Action: "new"}, false,
			"pager:trigger:critical,ops:message:critical,local:message:critical-log", "", "critical,critical-log"},
		{"critical remove resolves", event.Event{Source: "cmon", Severity: "critical", Action: "remove"}, false,
			"pager:resolve:critical,ops:resolve:critical,local:resolve:critical-log", "", "critical,critical-log"},
		{"muted during business hours", event.Event{Severity: "warning", Cluster: "staging", Action: "new", Time: monday10}, false,
			"", "ops:message:quiet-warnings", "quiet-warnings"},
		{"not muted on sunday", event.Event{Severity: "warning", Cluster: "staging", Action: "new", Time: sunday}, false,
			"ops:message:quiet-warnings", "", "quiet-warnings"},
		{"active during business hours", event.Event{Severity: "warning", Action: "new", Time: monday10}, false,
			"ops:message:office-warnings", "", "office-warnings"},
		{"outside active window is muted", event.Event{Severity: "warning", Action: "new", Time: sunday}, false,
			"", "ops:message:office-warnings", "office-warnings"},
		{"fallthrough", event.Event{Severity: "info", Action: "new"}, false, "local:message:everything-else", "", "everything-else"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Evaluate(&tt.ev)
			if d.Dropped != tt.dropped {
				t.Errorf("dropped = %v", d.Dropped)
			}
			if got := fmtDeliveries(d.Deliveries); got != tt.deliveries {
				t.Errorf("deliveries = %q, want %q", got, tt.deliveries)
			}
			if got := fmtDeliveries(d.Muted); got != tt.muted {
				t.Errorf("muted = %q, want %q", got, tt.muted)
			}
			var matched []string
			for _, r := range d.Rules {
				if r.Matched {
					matched = append(matched, r.Name)
				}
			}
			if got := strings.Join(matched, ","); got != tt.matched {
				t.Errorf("matched = %q, want %q", got, tt.matched)
			}
			last := d.Rules[len(d.Rules)-1]
			if !last.Matched {
				t.Errorf("rules must stop at the deciding rule, last is %+v", last)
			}
		})
	}
}

// TestEvaluateContinueMuteDrop pins how continue, muting and drop combine.
func TestEvaluateContinueMuteDrop(t *testing.T) {
	src := `
channels:
  pager: {type: pagerduty}
  log: {type: syslog}
windows:
  always: {}
  early: {times: ["00:00-01:00"]}   # holds the zero time of the events below
rules:
  - {name: audit, when: 'true', notify: [log], continue: true}
  - {name: daytime-pager, when: 'severity == "critical"', notify: [pager], active_during: [always], muted_during: [early], continue: true}
  - {name: critical, when: 'severity == "critical"', notify: [pager]}
  - {name: noise, when: 'severity == "info"', drop: true}
`
	p, ps := compileOne(t, src)
	if p == nil {
		t.Fatal(ps)
	}
	d := p.Evaluate(&event.Event{Severity: "critical", Action: "new"})
	if got := fmtDeliveries(d.Deliveries); got != "log:message:audit,pager:trigger:critical" {
		t.Errorf("a muted rule with continue must not stop a later rule paging: %q", got)
	}
	if got := fmtDeliveries(d.Muted); got != "pager:trigger:daytime-pager" {
		t.Errorf("muted = %q", got)
	}
	d = p.Evaluate(&event.Event{Severity: "info", Action: "new"})
	if !d.Dropped || fmtDeliveries(d.Deliveries) != "log:message:audit" {
		t.Errorf("drop ends evaluation but keeps what continue rules decided: dropped=%v %q", d.Dropped, fmtDeliveries(d.Deliveries))
	}
}

func TestEvaluateRuntimeErrorDoesNotSwallow(t *testing.T) {
	p, ps := compileOne(t, evalPolicy)
	if p == nil {
		t.Fatal(ps)
	}
	d := p.Evaluate(&event.Event{Severity: "info", Action: "new", Fields: map[string]string{"missing": "not a number"}})
	if d.Rules[1].Name != "broken-at-runtime" || d.Rules[1].Error == "" || d.Rules[1].Matched {
		t.Fatalf("runtime error not recorded: %+v", d.Rules[1])
	}
	if fmtDeliveries(d.Deliveries) != "local:message:everything-else" {
		t.Errorf("event swallowed by a broken rule: %+v", d.Deliveries)
	}
}

func fmtDeliveries(ds []Delivery) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Channel+":"+d.Action+":"+d.Rule)
	}
	return strings.Join(out, ",")
}

func TestWindowContains(t *testing.T) {
	src := `windows:
  night: {timezone: America/New_York, weekdays: [fri], times: ["22:00-06:00"]}
  office: {weekdays: [mon-fri], times: ["09:00-12:00", "13:00-24:00"]}
  weekend: {weekdays: [sat, sun]}
  wrap: {weekdays: [sat-mon]}
rules: [{name: r, when: 'true', drop: true}]
`
	p, ps := compileOne(t, src)
	if p == nil {
		t.Fatal(ps)
	}
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		window string
		at     time.Time
		want   bool
	}{
		{"night", time.Date(2026, 11, 20, 23, 0, 0, 0, ny), true},      // Fri 23:00
		{"night", time.Date(2026, 11, 21, 3, 0, 0, 0, ny), true},       // Sat 03:00 belongs to Friday's night
		{"night", time.Date(2026, 11, 21, 6, 0, 0, 0, ny), false},      // end is exclusive
		{"night", time.Date(2026, 11, 21, 23, 0, 0, 0, ny), false},     // Sat 23:00
		{"night", time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC), true}, // Fri 23:00 in New York
		{"office", time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC), false},
		{"office", time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC), true},
		{"office", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), false},
		{"weekend", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), true},
		{"wrap", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), true},
		{"wrap", time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		if got := p.Windows[tt.window].Contains(tt.at); got != tt.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", tt.window, tt.at, got, tt.want)
		}
	}
}
