package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/policy"
)

// featurePolicy exercises every kind of constant and call a rule can
// compile to, so the snapshot's encoder meets them all.
const featurePolicy = `
channels:
  a: {type: syslog}
  b: {type: slack}
windows:
  nights: {timezone: Europe/Stockholm, times: ["22:00-06:00"]}
  weekend: {weekdays: [sat, sun]}
rules:
  - name: suppressed-and-escalated
    when: 'severity != "info"'
    notify: [a]
    suppress: {for: 30m, key: 'source + "/" + event_type + "/" + string(cluster_id)'}
    escalate: {after: 3, within: 1h, notify: [b]}
    continue: true
  - name: regex-and-sets
    when: 'message matches "(?i)disconnect" && event_type in ["MySqlDisconnected", "Other"] && fields["hostid"] not in ["99"]'
    notify: [a]
    continue: true
  - name: windows-and-rank
    when: 'in_window("nights") || (in_window("weekend") && rank(severity) >= rank("warning"))'
    notify: [b]
    continue: true
  - name: let-closures-builtins
    when: 'let n = len(node); let m = (let k = 2; k * n); n >= 0 && m >= n && any(["vm", "vm2"], # == node) && upper(source) in ["PACEMAKER", "CMON"] && (count ?? 0) >= 0 && now() - time > duration("-1h")'
    notify: [a]
    muted_during: [weekend]
    continue: true
  - name: floats-and-bools
    when: 'count * 1.5 > 0.5 && ok == (action == "remove") && (key startsWith "cmon") == (source == "cmon")'
    notify: [b]
  - name: runtime-error
    when: 'int(fields["message"]) > 1'
    notify: [a]
  - name: rest
    when: "true"
    drop: true
`

// snapshotFiles lists the snapshots in a cache directory: one
// subdirectory per user (and, for the layout before it, the top).
func snapshotFiles(cache string) []string {
	top, _ := filepath.Glob(filepath.Join(cache, "*.snapshot"))
	sub, _ := filepath.Glob(filepath.Join(cache, "*", "*.snapshot"))
	return append(top, sub...)
}

func writePolicy(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sampleEvents decodes every example event, at several times of day.
func sampleEvents(t *testing.T) []*event.Event {
	t.Helper()
	var out []*event.Event
	times := []time.Time{time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	files, _ := filepath.Glob("../examples/events/cmon/*.json")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, at := range times {
			ev, err := cmon.Decode(data, cmon.Options{Now: at, Host: "cc1"})
			if err == nil {
				out = append(out, &ev)
			}
		}
	}
	files, _ = filepath.Glob("../examples/events/pacemaker/*.env")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		env, err := pacemaker.ParseEnvFile(data)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := pacemaker.Decode(env, pacemaker.Options{Host: "vm"})
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range times {
			ev.Time = at
			e := ev
			out = append(out, &e)
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d sample events", len(out))
	}
	return out
}

// TestSnapshotDecidesLikeCompiled loads each policy compiled and from its
// snapshot and checks both decide every sample event identically.
func TestSnapshotDecidesLikeCompiled(t *testing.T) {
	events := sampleEvents(t)
	policies := map[string]string{"feature": featurePolicy}
	for _, f := range []string{"../policies/default.yaml", "../bench/policy-100.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		policies[filepath.Base(f)] = string(data)
	}
	for name, body := range policies {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := writePolicy(t, dir, body)
			cache := filepath.Join(dir, "cache")
			compiled, ps, err := engine.LoadCached(path, cache, policy.Options{})
			if compiled == nil || err != nil {
				t.Fatal(ps, err)
			}
			snap, ps, err := engine.LoadCached(path, cache, policy.Options{})
			if snap == nil || err != nil {
				t.Fatal(ps, err)
			}
			if compiled.FromSnapshot || !snap.FromSnapshot {
				t.Fatalf("FromSnapshot = %v then %v, want false then true", compiled.FromSnapshot, snap.FromSnapshot)
			}
			errors := 0
			for _, ev := range events {
				da, db := compiled.Evaluate(ev), snap.Evaluate(ev)
				if !reflect.DeepEqual(da.Hits, db.Hits) {
					t.Fatalf("hits differ:\ncompiled %+v\nsnapshot %+v", da.Hits, db.Hits)
				}
				a, _ := json.Marshal(da)
				b, _ := json.Marshal(db)
				if string(a) != string(b) {
					t.Fatalf("event %s at %s:\ncompiled %s\nsnapshot %s", ev.Key, ev.Time, a, b)
				}
				errors += strings.Count(string(a), `"error"`)
			}
			if name == "feature" && errors == 0 {
				t.Errorf("the runtime-error rule never failed: the error path went untested")
			}
			if !reflect.DeepEqual(compiled.Settings, snap.Settings) || len(compiled.Channels) != len(snap.Channels) {
				t.Errorf("settings or channels differ")
			}
			for n, ch := range compiled.Channels {
				node, err := snap.Channels[n].Mapping()
				if err != nil || node.Line != ch.Node.Line || snap.Channels[n].Type != ch.Type {
					t.Errorf("channel %s: %v, line %d want %d", n, err, node.Line, ch.Node.Line)
				}
			}
		})
	}
}

func TestLoadCachedInvalidation(t *testing.T) {
	dir := t.TempDir()
	path := writePolicy(t, dir, featurePolicy)
	cache := filepath.Join(dir, "cache")
	load := func() *engine.Policy {
		t.Helper()
		p, ps, err := engine.LoadCached(path, cache, policy.Options{})
		if p == nil || err != nil {
			t.Fatal(ps, err)
		}
		return p
	}
	snapshots := func() []string { return snapshotFiles(cache) }
	if load().FromSnapshot {
		t.Fatal("first load came from a snapshot")
	}
	if len(snapshots()) != 1 || !load().FromSnapshot {
		t.Fatal("second load did not use the snapshot")
	}
	// The same size, a different rule: rewriting the file must invalidate.
	writePolicy(t, dir, strings.Replace(featurePolicy, `"true"`, `'1<2'`, 1))
	p := load()
	if p.FromSnapshot || p.Rules[len(p.Rules)-1].When != "1<2" {
		t.Fatal("an edited policy was served from the old snapshot")
	}
	if !load().FromSnapshot {
		t.Fatal("the edited policy was not snapshotted")
	}
	// A corrupt snapshot is ignored, and replaced.
	snap := snapshots()[0]
	data, _ := os.ReadFile(snap)
	os.WriteFile(snap, data[:len(data)/2], 0o640)
	if load().FromSnapshot || !load().FromSnapshot {
		t.Fatal("a truncated snapshot was used or not replaced")
	}
	// A snapshot others could have written is never trusted.
	for _, mode := range []os.FileMode{0o666, 0o660} {
		if !load().FromSnapshot {
			t.Fatal("snapshot not used")
		}
		os.Chmod(snap, mode)
		if load().FromSnapshot {
			t.Fatalf("a snapshot with mode %v was used", mode)
		}
	}
	if os.Geteuid() == 0 {
		// Written by another user (hacluster, say): root must not use it.
		load()
		if !load().FromSnapshot {
			t.Fatal("snapshot not used")
		}
		os.Chown(snap, 65534, 65534)
		if load().FromSnapshot {
			t.Fatal("a snapshot owned by another user was used")
		}
	}
	// A policy with errors is not snapshotted, and no snapshot hides them.
	writePolicy(t, dir, "rules:\n  - {name: x, when: 'nope ==', drop: true}\n")
	for range 2 {
		if p, ps, _ := engine.LoadCached(path, cache, policy.Options{}); p != nil || len(ps.Errors()) != 1 {
			t.Fatalf("broken policy: %v %v", p, ps)
		}
	}
	// No cache dir, no snapshot.
	writePolicy(t, dir, featurePolicy)
	for range 2 {
		if p, _, _ := engine.LoadCached(path, "", policy.Options{}); p == nil || p.FromSnapshot {
			t.Fatal("dir \"\" must disable the cache")
		}
	}
}

func TestLoadCachedDirectory(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.d")
	os.Mkdir(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "10-channels.yaml"), []byte("channels:\n  a: {type: syslog}\n"), 0o644)
	os.WriteFile(filepath.Join(pol, "20-rules.yaml"), []byte("rules:\n  - {name: all, when: 'true', notify: [a], continue: true}\n"), 0o644)
	cache := filepath.Join(dir, "cache")
	for i, want := range []bool{false, true} {
		p, ps, err := engine.LoadCached(pol, cache, policy.Options{})
		if p == nil || err != nil || p.FromSnapshot != want {
			t.Fatalf("load %d: %v %v snapshot=%v", i, ps, err, p != nil && p.FromSnapshot)
		}
	}
	// A file added to the directory invalidates the snapshot.
	os.WriteFile(filepath.Join(pol, "30-more.yaml"), []byte("rules:\n  - {name: more, when: 'true', drop: true}\n"), 0o644)
	p, _, _ := engine.LoadCached(pol, cache, policy.Options{})
	if p == nil || p.FromSnapshot || len(p.Rules) != 2 {
		t.Fatalf("added file not seen: %+v", p)
	}
}

// The cache and rejected/ directories are shared by root and hacluster
// through the group: a umask of 022 must not leave the group read-only.
func TestMkdirSharedIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "cache")
	if err := engine.MkdirShared(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := os.ModeDir | os.ModeSetgid | 0o770; st.Mode() != want {
		t.Errorf("mode %v, want %v", st.Mode(), want)
	}
	if err := engine.MkdirShared(dir); !os.IsExist(err) {
		t.Errorf("second MkdirShared: %v, want exists", err)
	}
}

// TestSnapshotKeepsBudget: a program loaded from a snapshot is held to
// the evaluation budget as a compiled one is (the ticks are in its
// bytecode).
func TestSnapshotKeepsBudget(t *testing.T) {
	a := "[" + strings.Repeat("1,", 999) + "1]"
	body := "channels:\n  local: {type: syslog}\nrules:\n  - name: heavy\n    when: 'all(" + a + ", {all(" + a + ", {all(" + a + ", {# > 0})})})'\n    notify: [local]\n  - name: all\n    when: 'true'\n    notify: [local]\n"
	dir := t.TempDir()
	path := writePolicy(t, dir, body)
	cache := filepath.Join(dir, "cache")
	for i := range 2 {
		p, ps, err := engine.LoadCached(path, cache, policy.Options{})
		if p == nil || err != nil {
			t.Fatal(ps, err)
		}
		if p.FromSnapshot != (i == 1) {
			t.Fatalf("load %d: FromSnapshot = %v", i, p.FromSnapshot)
		}
		d := p.Evaluate(&event.Event{Key: "k", Severity: event.SeverityCritical, Action: event.ActionNew})
		if d.Rules[0].Matched || !strings.Contains(d.Rules[0].Error, "exceeds the evaluation") || !d.Rules[1].Matched {
			t.Errorf("snapshot %v: rules = %+v, want heavy failed on the budget and all matched", p.FromSnapshot, d.Rules)
		}
	}
}
