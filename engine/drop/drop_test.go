package drop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"notifier/engine/event"
	"notifier/engine/policy"
	"notifier/engine/spool"
	"notifier/engine/spool/spoolnet"
	"notifier/engine/state"
)

// The drop cannot import these packages (notifier-drop links none of
// them): its copies of their constants must stay equal.
func TestConstantsAgree(t *testing.T) {
	if ReadBound != policy.DefaultDeadline {
		t.Errorf("ReadBound %v, policy.DefaultDeadline %v", ReadBound, policy.DefaultDeadline)
	}
	if DefaultStatePath != state.DefaultBoltPath {
		t.Errorf("DefaultStatePath %q, state.DefaultBoltPath %q", DefaultStatePath, state.DefaultBoltPath)
	}
}

func TestSpoolDir(t *testing.T) {
	for _, tt := range []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"/f", map[string]string{"NOTIFIER_SPOOL": "/e", "NOTIFIER_STATE_PATH": "/s/state.db"}, "/f"},
		{"", map[string]string{"NOTIFIER_SPOOL": "/e", "NOTIFIER_STATE_PATH": "/s/state.db"}, "/e"},
		{"", map[string]string{"NOTIFIER_STATE_PATH": "/s/state.db"}, "/s/spool"},
		{"", nil, spool.Default},
	} {
		if got := SpoolDir(tt.flag, tt.env); got != tt.want {
			t.Errorf("SpoolDir(%q, %v) = %q, want %q", tt.flag, tt.env, got, tt.want)
		}
	}
}

func TestClaimWait(t *testing.T) {
	for in, want := range map[string]time.Duration{"": spool.DefaultWakeBound, "0": 0, "50ms": 50 * time.Millisecond} {
		if got, err := ClaimWait(map[string]string{"NOTIFIER_CLAIM_WAIT": in}); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "-1s"} {
		var ue *UsageError
		if _, err := ClaimWait(map[string]string{"NOTIFIER_CLAIM_WAIT": bad}); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

func alarm(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDropAndEventOf: an entry spooled and read back decodes to the same
// event as the drop's, and with a policy's cluster defaults to the event
// today's run decides (the receipt time as "now").
func TestDropAndEventOf(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	received := time.Date(2026, 12, 5, 1, 2, 3, 4, time.UTC)
	env := map[string]string{"NOTIFIER_STATE_PATH": filepath.Join(dir, "state.db")}
	e, c, r, err := Drop(context.Background(), s, Options{Policy: "p/../notifier.yaml", Env: env, Stdin: strings.NewReader(string(alarm(t))), Received: received, Owner: func() string { return "host/1/x" }, Wait: 0})
	if err != nil || c == nil || r != spool.WakeNoEngine {
		t.Fatalf("Drop: %v, %v, %v", c, r, err)
	}
	wd, _ := os.Getwd()
	if e.Policy != filepath.Join(wd, "notifier.yaml") || e.StatePath != env["NOTIFIER_STATE_PATH"] || !e.Received.Equal(received) || e.Input.Source != SourceCMON {
		t.Errorf("entry %+v", e)
	}
	cluster := event.ClusterDefaults{Name: "prod"}
	got, err := EventOf(&c.Entry, cluster)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(&Input{Source: SourceCMON, Data: alarm(t), Host: Hostname()}, received, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != want.Key || got.Cluster != want.Cluster || !got.Time.Equal(want.Time) || got.Controller != want.Controller || got.Message != want.Message {
		t.Errorf("EventOf = %+v\nwant %+v", got, want)
	}
}

// TestDropRefuses: bad input is an InputError carrying what was read;
// a CMON message that is not an alarm is ErrIgnored; neither is spooled.
func TestDropRefuses(t *testing.T) {
	s, err := spool.Open(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, _, err = Drop(context.Background(), s, Options{Policy: "/p", Stdin: strings.NewReader(`{"type":"alarm"`), Received: time.Now()})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input == nil || string(ie.Input.Data) != `{"type":"alarm"` {
		t.Errorf("truncated input: %v", err)
	}
	_, _, _, err = Drop(context.Background(), s, Options{Policy: "/p", Stdin: strings.NewReader(`{"type":"event","action":"new","event":{}}`), Received: time.Now()})
	if !errors.Is(err, ErrIgnored) {
		t.Errorf("not an alarm: %v", err)
	}
	_, _, _, err = Drop(context.Background(), s, Options{Policy: "/p", Source: "snmp", Received: time.Now()})
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Errorf("bad source: %v", err)
	}
	if ids, _ := s.List(); len(ids) != 0 {
		t.Errorf("spooled %v", ids)
	}
}

// TestPacemakerInputKeepsOnlyItsVariables: the entry keeps CRM_* and
// NOTIFIER_* only, and decodes from them.
func TestPacemakerInputKeepsOnlyItsVariables(t *testing.T) {
	env := map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "n1", "CRM_alert_desc": "lost",
		"CRM_alert_timestamp_epoch": "1700000000", "CRM_alert_timestamp_usec": "0", "NOTIFIER_CLUSTER": "c", "HOME": "/root", "SECRET": "x"}
	in, err := Read(context.Background(), nil, env, SourceAuto, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Env["SECRET"]; ok || in.Env["HOME"] != "" || in.Env["NOTIFIER_CLUSTER"] != "c" || in.Source != SourcePacemaker {
		t.Errorf("input %+v", in)
	}
	if _, err := Decode(in, time.Now(), event.ClusterDefaults{}); err != nil {
		t.Errorf("decode: %v", err)
	}
}

// TestPutWithAndWithoutEngine: with no engine listening, an owner's
// entry goes straight into claimed/ (it decides the entry itself) and
// an ownerless one into new/; with an engine listening the entry is
// written durably and offered, and one the engine declines is claimed
// by the caller.
func TestPutWithAndWithoutEngine(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	take := func() *spool.Entry {
		e, err := Take(context.Background(), Options{Policy: "/etc/notifier.yaml", Env: map[string]string{}, Stdin: strings.NewReader(string(alarm(t))), Received: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	stats := func() spool.Stats {
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	c, r, err := Put(s, take(), ownerA, time.Second)
	if err != nil || c == nil || r != spool.WakeNoEngine || stats().Claimed != 1 || stats().New != 0 {
		t.Fatalf("no engine, owner: %+v, %v, %v; %+v", c, r, err, stats())
	}
	s.Done(c)
	c, r, err = Put(s, take(), nil, time.Second)
	if err != nil || c != nil || r != spool.WakeNoEngine || stats().New != 1 {
		t.Fatalf("no engine, no owner: %+v, %v, %v; %+v", c, r, err, stats())
	}
	ids, _ := s.List()
	old, err := s.Claim(ids[0], "host/1/a")
	if err != nil {
		t.Fatal(err)
	}
	s.Done(old)

	l, err := spoolnet.Listen(s)
	if err != nil {
		t.Fatal(err)
	}
	accept := make(chan bool, 2)
	var wants atomic.Bool
	wants.Store(true)
	handed := make(chan string, 2)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- s.ServeWith(ctx, l, "host/2/engine", func(*spool.Claimed) bool { return <-accept }, spool.ServeOptions{
			Wants:    func(string, string) (bool, string) { return wants.Load(), "busy" },
			Claiming: func(id string) func() { return func() { handed <- id } },
		})
	}()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	accept <- true
	asked := 0
	c, r, err = Put(s, take(), func() string { asked++; return "host/1/a" }, time.Minute)
	<-handed
	if asked != 0 {
		t.Errorf("engine takes it: the owner id was made %d times, for nothing", asked)
	}
	if err != nil || c != nil || r != spool.WakeClaimed || stats().Claimed != 1 {
		t.Fatalf("engine takes it: %+v, %v, %v; %+v", c, r, err, stats())
	}
	// Declined after its answer (an engine stopping): the drop is done,
	// and the entry back in new/ for the next engine's scan or a flush.
	accept <- false
	c, r, err = Put(s, take(), ownerA, time.Minute)
	id := <-handed
	if err != nil || c != nil || r != spool.WakeClaimed {
		t.Fatalf("engine declines after answering: %+v, %v, %v", c, r, err)
	}
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != id {
		t.Fatalf("engine declines after answering: new/ holds %q, want %s", ids, id)
	}
	// Declined before (busy): the drop's.
	wants.Store(false)
	c, r, err = Put(s, take(), ownerA, time.Minute)
	if err != nil || c == nil || r != spool.WakeDeclined || c.Owner != "host/1/a" {
		t.Fatalf("engine declines: %+v, %v, %v", c, r, err)
	}
}

// ownerA is a claimer's owner id, for Put.
func ownerA() string { return "host/1/a" }

// TestNewOwner: notifier-drop's owner ids are engine/state's, so that a
// flush's Takeover tells a live one from a dead one the same way.
func TestNewOwner(t *testing.T) {
	o := NewOwner()
	if !OwnedHere(o) || !state.OwnerAlive(o) {
		t.Errorf("%q: OwnedHere %v, OwnerAlive %v; want both", o, OwnedHere(o), state.OwnerAlive(o))
	}
	host, _, _ := strings.Cut(state.NewOwner(), "/")
	if h, _, _ := strings.Cut(o, "/"); h != host || strings.Count(o, "/") != 2 {
		t.Errorf("%q is not of state.NewOwner's form (host %q)", o, host)
	}
	if OwnedHere(host + "/1/00000000") {
		t.Error("pid 1's owner counts as this process's")
	}
}
