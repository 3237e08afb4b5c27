package syslog

import (
	"context"
	"strings"
	"testing"

	"notifier/internal/apitest"
	"notifier/internal/keys"
)

// TestOversizedMessageFitsEveryTransport sends an event whose key, node
// and summary are each far over what any collector takes, through every
// transport to a collector that refuses what it is not required to
// take. The line must arrive whole (it parses), still carry the summary
// and a key the resolve will repeat, and say it was truncated.
func TestOversizedMessageFitsEveryTransport(t *testing.T) {
	for _, scheme := range []string{"udp", "tcp", "tls", "unix"} {
		t.Run(scheme, func(t *testing.T) {
			s, c := server(t, scheme)
			n := newNotifier(t, c)
			m := alarm()
			m.Key = "pacemaker/prod/" + strings.Repeat("k", 100<<10)
			m.Node = strings.Repeat("n", 100<<10)
			m.Summary = "Resource failed " + strings.Repeat("x", 100<<10)
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			msgs, err := s.Wait(1, wait)
			if err != nil {
				t.Fatal(err)
			}
			kv, err := apitest.ParseKeyValues(msgs[0].Msg)
			if err != nil {
				t.Fatalf("line does not parse: %v", err)
			}
			if kv["key"] != keys.Bound(m.Key, maxFieldLen) {
				t.Errorf("key = %.60q…, want its hashed short form", kv["key"])
			}
			if !strings.HasPrefix(kv["summary"], "Resource failed x") || !strings.HasSuffix(kv["summary"], "…") {
				t.Errorf("summary = %.40q…, want the start of the summary, cut with …", kv["summary"])
			}
			if kv["truncated"] != "true" || kv["severity"] != m.Severity || kv["action"] != "trigger" {
				t.Errorf("truncated=%q severity=%q action=%q", kv["truncated"], kv["severity"], kv["action"])
			}
		})
	}
}
