package syslog

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"notifier/channels"
	"notifier/internal/apitest"
	"notifier/internal/keys"
)

// TestTemplatedPartsOnEveryTransport: the message part is summary=, the
// fields parts are pairs before it, on every transport and for every
// action; the pairs a resolve is matched by stay as they were.
func TestTemplatedPartsOnEveryTransport(t *testing.T) {
	parts := map[string]string{
		"message":        "[prod-db] MySqlDisconnected on db1: see https://wiki.example.com/r/42",
		"fields.env":     "prod",
		"fields.runbook": "https://wiki.example.com/r/42",
		"fields.team":    "dba on call",
		"fields.empty":   " ",
		"fields.key":     "a part no config can name: ignored",
		"fields.a b":     "ignored too: the name would need quoting",
	}
	want := `severity=critical action=%s key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical ` +
		`env=prod runbook=https://wiki.example.com/r/42 team="dba on call" summary="[prod-db] MySqlDisconnected on db1: see https://wiki.example.com/r/42"`
	for _, scheme := range []string{"udp", "tcp", "tls", "unix"} {
		t.Run(scheme, func(t *testing.T) {
			s, c := server(t, scheme)
			n := newNotifier(t, c)
			actions := []channels.Action{channels.Trigger, channels.Inform, channels.Resolve}
			for _, a := range actions {
				m := alarm()
				m.Action, m.Parts = a, parts
				if err := n.Notify(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			msgs, err := s.Wait(len(actions), wait)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			var lines []string
			for _, m := range msgs {
				got[m.Msg] = true
				lines = append(lines, m.Msg)
			}
			for _, a := range actions {
				if line := strings.Replace(want, "%s", string(a), 1); !got[line] {
					t.Errorf("no line\n%s\narrived: %q", line, lines)
				}
			}
		})
	}
}

func TestTemplatedLine(t *testing.T) {
	tests := []struct {
		name  string
		parts map[string]string
		want  string
	}{
		{"no parts: the built-in line", nil,
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="MySQL down on db1"`},
		{"a blank message is never sent", map[string]string{"message": "\n "},
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="MySQL down on db1"`},
		{"message on one line, quoted", map[string]string{"message": "line one\nline \"two\""},
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="line one line \"two\""`},
		{"fields by name, escaped", map[string]string{"fields.b": "x=y", "fields.a": "é\n1"},
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical a="é 1" b="x=y" summary="MySQL down on db1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := alarm()
			m.Parts = tt.parts
			if got := FormatLine(m); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if got := fitLine(m, maxLine); got != tt.want {
				t.Errorf("fitLine: %s", got)
			}
		})
	}
}

// TestTemplatedLineIsBounded: a long message is cut as a long summary
// is, and long fields are cut to maxFieldLen, over a transport with
// little room.
func TestTemplatedLineIsBounded(t *testing.T) {
	s, c := server(t, "udp")
	n := newNotifier(t, c)
	m := alarm()
	m.Key = "pacemaker/prod/" + strings.Repeat("k", 5000)
	m.Parts = map[string]string{"message": "templated " + strings.Repeat("m", 10000), "fields.blob": strings.Repeat("b", 5000)}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Wait(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs[0].Raw) > maxDatagram {
		t.Errorf("datagram of %d bytes", len(msgs[0].Raw))
	}
	kv, err := apitest.ParseKeyValues(msgs[0].Msg)
	if err != nil {
		t.Fatal(err)
	}
	if kv["key"] != keys.Bound(m.Key, maxFieldLen) || kv["blob"] != strings.Repeat("b", maxFieldLen-3)+"…" || kv["truncated"] != "true" {
		t.Errorf("key %.40q blob %.40q truncated %q", kv["key"], kv["blob"], kv["truncated"])
	}
	if !strings.HasPrefix(kv["summary"], "templated mmm") || !strings.HasSuffix(kv["summary"], "…") {
		t.Errorf("summary %.40q…", kv["summary"])
	}
}

func TestConfigTemplates(t *testing.T) {
	c := Config{Message: "m", Fields: map[string]string{"team": "t", "env": "e"}}
	type tmpl struct {
		Option         string
		Text           string
		Required, JSON bool
	}
	var got []tmpl
	for _, x := range c.Templates() {
		got = append(got, tmpl{x.Option, *x.Text, x.Required, x.JSON})
	}
	want := []tmpl{{"message", "m", true, false}, {"fields.env", "e", false, false}, {"fields.team", "t", false, false}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Templates() = %v\nwant %v", got, want)
	}
	*c.Templates()[0].Text = "changed"
	if c.Message != "changed" {
		t.Error("Text does not point at the field")
	}
}

func TestConfigValidateFields(t *testing.T) {
	c := Config{Fields: map[string]string{"env": "x", "run-book_2": "x", "": "x", "a.b": "x", "key": "x", "white space": "x", strings.Repeat("n", 33): "x"}}
	want := `syslog: fields: name "" must be 1 to 32 characters` + "\n" +
		"syslog: fields.a.b: a name is letters, digits, '_' and '-' only\n" +
		"syslog: fields.key: the line's own key: correlation relies on it\n" +
		`syslog: fields: name "` + strings.Repeat("n", 33) + `" must be 1 to 32 characters` + "\n" +
		"syslog: fields.white space: a name is letters, digits, '_' and '-' only"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}
