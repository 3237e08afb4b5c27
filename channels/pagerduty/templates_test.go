package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

// sendParts sends fullMessage with parts set, as the pipeline renders
// them, to a local Events API and returns the event that arrived.
func sendParts(t *testing.T, action channels.Action, parts map[string]string) apitest.PagerDutyRequest {
	t.Helper()
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	m := fullMessage()
	m.Action, m.Parts = action, parts
	if err := notifier(t, srv.URL(), Config{}).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	evs := srv.Events()
	if len(evs) != 1 || evs[0].Status != http.StatusAccepted {
		t.Fatalf("server got %+v, want one accepted event", evs)
	}
	return evs[0]
}

// TestTemplatedPartsOnTheWire: every template option replaces its
// built-in text in the event PagerDuty receives, within the same bounds,
// and leaves everything else as it was.
func TestTemplatedPartsOnTheWire(t *testing.T) {
	builtIn := sendParts(t, channels.Trigger, nil).Event
	tests := []struct {
		name  string
		parts map[string]string
		want  func(ev *apitest.PagerDutyEvent) // applied to the built-in event
	}{
		{"summary", map[string]string{"summary": "CRITICAL MySqlDisconnected on db1 (prod-db)"},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Summary = "CRITICAL MySqlDisconnected on db1 (prod-db)" }},
		{"summary is cut to 1024 bytes", map[string]string{"summary": strings.Repeat("é", 600)},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Summary = strings.Repeat("é", 510) + "…" }},
		{"source", map[string]string{"source": "db1.prod.example.com"},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Source = "db1.prod.example.com" }},
		{"a blank source is never sent", map[string]string{"source": " "}, func(*apitest.PagerDutyEvent) {}},
		{"source is cut", map[string]string{"source": strings.Repeat("s", 5000)},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Source = strings.Repeat("s", maxFieldLen-3) + "…" }},
		{"component", map[string]string{"component": "mysqld"},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Component = "mysqld" }},
		{"group", map[string]string{"group": "eu-west prod"},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Group = "eu-west prod" }},
		{"blank group is left out", map[string]string{"group": ""},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Group = "" }},
		{"class", map[string]string{"class": "database"},
			func(ev *apitest.PagerDutyEvent) { ev.Payload.Class = "database" }},
		{"custom_details added, replacing and removing", map[string]string{
			"custom_details.runbook":        "https://wiki.example.com/runbooks/MySqlDisconnected",
			"custom_details.message":        "templated message",
			"custom_details.recommendation": "  ",
			"custom_details.blob":           strings.Repeat("b", 10000),
		}, func(ev *apitest.PagerDutyEvent) {
			cd := ev.Payload.CustomDetails
			cd["runbook"] = "https://wiki.example.com/runbooks/MySqlDisconnected"
			cd["message"] = "templated message"
			delete(cd, "recommendation")
			cd["blob"] = strings.Repeat("b", maxDetailLen-3) + "…"
		}},
		{"links in order, blank and overlong hrefs left out", map[string]string{
			"links.0.href":  "https://wiki.example.com/runbooks/MySqlDisconnected",
			"links.0.text":  "Runbook\nMySqlDisconnected",
			"links.1.href":  "",
			"links.1.text":  "nowhere",
			"links.2.href":  " https://cc.example.com/clusters/7 ",
			"links.10.href": "https://grafana.example.com/d/db1",
			"links.10.text": strings.Repeat("t", 2000),
			"links.11.href": "https://example.com/" + strings.Repeat("x", maxHrefLen),
		}, func(ev *apitest.PagerDutyEvent) {
			ev.Links = []map[string]any{
				{"href": "https://wiki.example.com/runbooks/MySqlDisconnected", "text": "Runbook MySqlDisconnected"},
				{"href": "https://cc.example.com/clusters/7"},
				{"href": "https://grafana.example.com/d/db1", "text": strings.Repeat("t", maxFieldLen-3) + "…"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sendParts(t, channels.Trigger, tt.parts).Event
			want := builtIn
			p := *builtIn.Payload
			p.CustomDetails = make(map[string]any)
			for k, v := range builtIn.Payload.CustomDetails {
				p.CustomDetails[k] = v
			}
			want.Payload = &p
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("on the wire:\n got %+v\n     %+v\nwant %+v\n     %+v", got, got.Payload, want, want.Payload)
			}
		})
	}
}

// TestTemplatedInformAndResolve: an Inform pages with the templated
// texts as a trigger does; a resolve still carries only the key, which
// is all PagerDuty reads of it.
func TestTemplatedInformAndResolve(t *testing.T) {
	parts := map[string]string{"summary": "templated", "links.0.href": "https://wiki.example.com/x", "custom_details.owner": "dba"}
	trigger := sendParts(t, channels.Trigger, parts).Event
	if inform := sendParts(t, channels.Inform, parts).Event; !reflect.DeepEqual(inform, trigger) {
		t.Errorf("inform %+v\nwant the trigger's %+v", inform, trigger)
	}
	if trigger.Payload.Summary != "templated" || len(trigger.Links) != 1 || trigger.Payload.CustomDetails["owner"] != "dba" {
		t.Errorf("trigger %+v %+v", trigger, trigger.Payload)
	}
	res := sendParts(t, channels.Resolve, parts)
	want := `{"routing_key":"` + testKey + `","event_action":"resolve","dedup_key":"cmon/cc1/7/18446744073709551615"}`
	if string(res.Raw) != want {
		t.Errorf("resolve %s\nwant    %s", res.Raw, want)
	}
}

// TestRetrySendsTheSameParts: the outbox retries the message it stored,
// parts included; each attempt carries them.
func TestRetrySendsTheSameParts(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	srv.FailNext(1, http.StatusServiceUnavailable, "")
	m := fullMessage()
	m.Parts = map[string]string{"summary": "templated summary"}
	attempts, err := channels.Deliver(context.Background(), notifier(t, srv.URL(), Config{}), m, channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
	if err != nil || attempts != 2 {
		t.Fatalf("Deliver() = %d, %v", attempts, err)
	}
	for _, e := range srv.Events() {
		if e.Event.Payload.Summary != "templated summary" {
			t.Errorf("attempt %d (HTTP %d): summary %q", e.Seq, e.Status, e.Event.Payload.Summary)
		}
	}
}

// TestOversizedEventKeepsTemplatedDetails: raw fields are left out
// before the entries the policy's templates wrote.
func TestOversizedEventKeepsTemplatedDetails(t *testing.T) {
	m := fullMessage()
	for i := range 200 {
		m.Details[fmt.Sprintf("big%03d", i)] = strings.Repeat("<x>", 1000)
	}
	m.Details["alarmId"] = strings.Repeat("<x>", 1000) // replaced by a template below
	m.Parts = map[string]string{"custom_details.alarmId": strings.Repeat("<t>", 1000), "custom_details.runbook": strings.Repeat("<r>", 1000)}
	ev := BuildEvent(testKey, Config{}, m)
	if size := encodedSize(ev); size > maxEventSize {
		t.Fatalf("event of %d bytes", size)
	}
	d := ev.Payload.Details.(map[string]any)
	if d["alarmId"] != strings.Repeat("<t>", 1000) || d["runbook"] != strings.Repeat("<r>", 1000) {
		t.Errorf("templated entries left out or changed: alarmId %.20q runbook %.20q", d["alarmId"], d["runbook"])
	}
	if _, ok := d["truncated"]; !ok {
		t.Errorf("no note: the raw fields did not need shedding?")
	}
}

func TestConfigTemplates(t *testing.T) {
	c := Config{
		Summary: "s", Source: "src", Class: "cl",
		CustomDetails: map[string]string{"runbook": "r", "owner": "o"},
		Links:         []Link{{Href: "h0", Text: "t0"}, {Href: "h1"}},
	}
	type tmpl struct {
		Option         string
		Text           string
		Required, JSON bool
	}
	var got []tmpl
	for _, x := range c.Templates() {
		got = append(got, tmpl{x.Option, *x.Text, x.Required, x.JSON})
	}
	want := []tmpl{
		{"summary", "s", true, false}, {"source", "src", true, false}, {"component", "", false, false},
		{"group", "", false, false}, {"class", "cl", false, false},
		{"custom_details.owner", "o", false, false}, {"custom_details.runbook", "r", false, false},
		{"links.0.href", "h0", false, false}, {"links.0.text", "t0", false, false},
		{"links.1.href", "h1", false, false}, {"links.1.text", "", false, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Templates() =\n%v\nwant\n%v", got, want)
	}
	// Text points at the config's field, where there is one.
	ts := c.Templates()
	*ts[0].Text, *ts[len(ts)-1].Text = "changed", "changed too"
	if c.Summary != "changed" || c.Links[1].Text != "changed too" {
		t.Errorf("Text does not point at the fields: %+v", c)
	}
	if got := (&Config{}).Templates(); len(got) != 5 {
		t.Errorf("an empty config lists %d templates, want the 5 fixed ones", len(got))
	}
}

func TestConfigValidateTemplates(t *testing.T) {
	c := Config{RoutingKeyFile: "k",
		CustomDetails: map[string]string{"ok": "x", "a.b": "y", " ": "z"},
		Links:         []Link{{Href: "https://x"}, {Text: "no href"}, {Href: " "}},
	}
	want := "custom_details: a name is blank\n" +
		"custom_details.a.b: a name must not contain '.'\n" +
		"links[1].href: required (the link's URL, a template)\n" +
		"links[2].href: required (the link's URL, a template)"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
	var joined interface{ Unwrap() []error }
	if err := c.Validate(); !errors.As(err, &joined) {
		t.Errorf("not one error per problem: %T", err)
	}
}
