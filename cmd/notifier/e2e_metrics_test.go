package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"notifier/engine/metrics"
	"notifier/internal/harness"
)

// Metrics and self-alerts through the built binaries: the textfile the
// in-process runs keep, /metrics of a running engine, and the
// self-alerts each condition makes, told to a local Slack and resolved
// when it is over, with exact counts after known scenarios.

const metricsPolicy = `
settings:
  metrics:
    textfile: notifier.prom
    %s
  self_alert: {notify: [ops], after: 1s}
channels:
  pager: {type: pagerduty}
  ops: {type: slack}
  capped: {type: webhook, rate: {max: 1, per: 1h}}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
  - name: warning
    when: severity == "warning"
    notify: [capped]
`

// metricsRig runs the binary as CMON does, with a cache directory of its
// own (the last good policy is kept there).
type metricsRig struct {
	h     *harness.Harness
	cache string
}

func newMetricsRig(t *testing.T, listen string) *metricsRig {
	t.Helper()
	h := stateHarness(t, fmt.Sprintf(metricsPolicy, listen), harness.Options{})
	return &metricsRig{h: h, cache: filepath.Join(h.Dir, "cache")}
}

// alarm runs one CMON alarm; the exit status is returned, not judged
// (a dead letter, a last good policy: exit 1, as they should).
func (r *metricsRig) alarm(t *testing.T, id int, severity string) harness.Result {
	t.Helper()
	p, err := r.h.StartCMONWith(testCtx(t), cmonAlarm(id, "new", "ALARM_"+strings.ToUpper(severity), "db1"), harness.Invocation{Env: []string{"NOTIFIER_CACHE_DIR=" + r.cache}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// textfile reads what the runs counted: the textfile with the journal
// the runs append to between its rewrites.
func (r *metricsRig) textfile(t *testing.T) *metrics.Set {
	t.Helper()
	s, err := metrics.ReadTextfile(filepath.Join(r.h.Dir, "notifier.prom"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// promFile reads the textfile alone, as node_exporter does: it must
// parse whole.
func (r *metricsRig) promFile(t *testing.T) *metrics.Set {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.h.Dir, "notifier.prom"))
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := parser.TextToMetricFamilies(strings.NewReader(string(data))); err != nil {
		t.Fatalf("the textfile does not parse: %v\n%s", err, data)
	}
	s, bad := metrics.ParseText(data)
	if bad != 0 {
		t.Fatalf("%d lines of the textfile do not parse:\n%s", bad, data)
	}
	return s
}

// series is one expected value.
type series struct {
	d      *metrics.Def
	labels []string
	want   float64
}

func expectSeries(t *testing.T, what string, s *metrics.Set, want []series) {
	t.Helper()
	for _, w := range want {
		if got := s.Value(w.d, w.labels...); got != w.want {
			t.Errorf("%s: %s%q = %v, want %v", what, w.d.Name, w.labels, got, w.want)
		}
	}
}

// slackTexts are the texts the local Slack got.
func slackTexts(h *harness.Harness) []string {
	var out []string
	for _, m := range h.Slack.Messages() {
		out = append(out, m.Text+string(m.Attachments))
	}
	return out
}

// expectSelfAlerts checks the Slack messages from the n-th on: each
// must contain its phrase, in order, and no more came.
func expectSelfAlerts(t *testing.T, h *harness.Harness, from int, phrases ...string) {
	t.Helper()
	got := slackTexts(h)
	if len(got) != from+len(phrases) {
		t.Fatalf("Slack got %d messages, want %d: %q", len(got), from+len(phrases), got)
	}
	for i, p := range phrases {
		if !strings.Contains(got[from+i], p) {
			t.Errorf("Slack message %d: %q, want it to say %q", from+i, got[from+i], p)
		}
	}
}

// TestE2EMetricsTextfileAndSelfAlerts: in-process runs (no engine) keep
// the textfile's counts exactly, and each condition — a dead letter, a
// last good policy, the state failing open — is told once to Slack and
// resolved when it is over.
func TestE2EMetricsTextfileAndSelfAlerts(t *testing.T) {
	r := newMetricsRig(t, "")
	h := r.h

	// A dead letter: PagerDuty refuses the page (400).
	h.PagerDuty.FailNext(1, http.StatusBadRequest, "")
	if res := r.alarm(t, 1, "critical"); res.Exit != 1 {
		t.Fatalf("dead letter: exit %d, want 1: %s", res.Exit, res.Stderr)
	}
	expectSeries(t, "after the dead letter", r.textfile(t), []series{
		{metrics.Events, []string{"cmon", "notified"}, 1},
		{metrics.Deliveries, []string{"pager", "dead_letter"}, 1},
		{metrics.DeadLetters, nil, 1},
		{metrics.ChannelFailing, []string{"pager"}, 1},
		{metrics.SelfAlerts, []string{"dead_letter", "trigger"}, 1},
		{metrics.SelfAlertOpen, []string{"dead_letter"}, 1},
	})
	expectSelfAlerts(t, h, 0, "channel pager gave up 1 delivery")

	// The next page goes through: the channel is no longer failing. A
	// run says a dead letter is over only from a full look at the state
	// (every tenth of after, and every flush: the marks a run reads
	// before delivering may be older than another run's give-up).
	if res := r.alarm(t, 2, "critical"); res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	mustCommand(t, h, 0, "flush")
	expectSelfAlerts(t, h, 1, "over: channel pager gave up")

	// A rate cap of one an hour: the second warning is held.
	for _, id := range []int{10, 11} {
		if res := r.alarm(t, id, "warning"); res.Exit != 0 {
			t.Fatalf("warning %d: exit %d: %s", id, res.Exit, res.Stderr)
		}
	}

	// The policy breaks: its last good copy decides, loudly (exit 1).
	good, err := os.ReadFile(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Config, append(good, []byte("\nrules: [\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.alarm(t, 20, "critical"); res.Exit != 1 {
		t.Fatalf("last good: exit %d, want 1: %s", res.Exit, res.Stderr)
	}
	expectSeries(t, "on the last good policy", r.textfile(t), []series{{metrics.PolicyLastGood, []string{h.Config}, 1}})
	expectSelfAlerts(t, h, 2, "its last good copy decides")
	if err := os.WriteFile(h.Config, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.alarm(t, 21, "critical"); res.Exit != 0 {
		t.Fatalf("fixed: exit %d: %s", res.Exit, res.Stderr)
	}
	expectSelfAlerts(t, h, 3, "over: the policy")

	// The state becomes unusable (its file is a directory): the page is
	// delivered anyway, without suppression.
	away := h.State + ".away"
	if err := os.Rename(h.State, away); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.State, 0o700); err != nil {
		t.Fatal(err)
	}
	if res := r.alarm(t, 30, "critical"); res.Exit != 1 {
		t.Fatalf("fail open: exit %d, want 1: %s", res.Exit, res.Stderr)
	}
	expectSelfAlerts(t, h, 4, "fail open")
	if err := os.Remove(h.State); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, h.State); err != nil {
		t.Fatal(err)
	}
	// Failing open is over once decisions used the state for `after`
	// (1s) since the last that failed open: the condition's own time.
	time.Sleep(1100 * time.Millisecond)
	if res := r.alarm(t, 31, "critical"); res.Exit != 0 {
		t.Fatalf("state back: exit %d: %s", res.Exit, res.Stderr)
	}
	expectSelfAlerts(t, h, 5, "over: the state is unusable")

	want := []series{
		{metrics.Events, []string{"cmon", "notified"}, 7}, // 1, 2, 10, 20, 21, 30, 31
		{metrics.Events, []string{"cmon", "rate_limited"}, 1},
		{metrics.Events, []string{"cmon", "suppressed"}, 0},
		{metrics.Deliveries, []string{"pager", "ok"}, 5},
		{metrics.Deliveries, []string{"pager", "dead_letter"}, 1},
		{metrics.Deliveries, []string{"pager", "retried"}, 0},
		{metrics.Deliveries, []string{"capped", "ok"}, 1},
		{metrics.Deliveries, []string{"ops", "ok"}, 0}, // self-alerts are not deliveries
		{metrics.DeliveryDuration, []string{"pager"}, 6},
		{metrics.FailOpen, nil, 1},
		{metrics.Degraded, nil, 0},
		{metrics.DeadLetters, nil, 1},
		{metrics.ChannelFailing, []string{"pager"}, 0},
		{metrics.PolicyLastGood, []string{h.Config}, 0},
		{metrics.OutboxEntries, nil, 0},
		{metrics.SpoolEntries, []string{"new"}, 0},
		{metrics.SelfAlertOpen, []string{"state_fail_open"}, 0},
		{metrics.Rejected, nil, 1},
	}
	for _, c := range []string{"dead_letter", "policy_last_good", "state_fail_open"} {
		want = append(want, series{metrics.SelfAlerts, []string{c, "trigger"}, 1}, series{metrics.SelfAlerts, []string{c, "resolve"}, 1})
	}
	// Input notifier-drop rejects (it loads no policy: it cannot count
	// it) is kept in rejected/, which the textfile's gauges count.
	p, err := h.StartCMONWith(testCtx(t), []byte(`{"type":"alarm","action":`), harness.Invocation{Bin: mustDropBinary(t),
		Env: []string{"NOTIFIER_STATE_PATH=" + h.State}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Wait(); err != nil || res.Exit == 0 {
		t.Fatalf("bad input: exit %d, %v: %s", res.Exit, err, res.Stderr)
	}

	// The flush timer's run rewrites the textfile with what the runs
	// appended to its journal, and the gauges read now.
	mustCommand(t, h, 0, "flush")
	prom := r.promFile(t)
	expectSeries(t, "at the end", prom, want)
	if at := prom.Value(metrics.RejectedLast); at < float64(time.Now().Add(-time.Minute).Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("%s = %v, want about now", metrics.RejectedLast.Name, at)
	}
	if n := len(h.PagerDuty.Events()); n != 6 {
		t.Errorf("PagerDuty got %d requests, want 6", n)
	}
}

// unixGet fetches path over the unix socket sock.
func unixGet(t *testing.T, sock, path string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://engine" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(t, resp)); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b.String())
	}
	return b.String()
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// scrape reads the engine's /metrics with Prometheus' own parser.
func scrape(t *testing.T, sock string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(unixGet(t, sock, "/metrics")))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the series of family name with labels (name=value pairs),
// -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestE2EMetricsEngine: with `notifier serve` (notifier-engine, run by
// it) deciding, /metrics counts what it decided and delivered exactly,
// and its self-alert checks tell a dead letter and a broken policy once
// each, and their end.
func TestE2EMetricsEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "metrics.sock")
	r := newMetricsRig(t, "listen: unix:"+sock)
	h := r.h
	eng := startEngineOn(t, h.Config, h.Spool, "--self-check", "100ms")
	go func() {
		for range eng.lines {
		}
	}()
	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 30s for %s; Slack: %q", what, slackTexts(h))
			}
			time.Sleep(20 * time.Millisecond) // polling what the engine does on its own
		}
	}
	metric := func(name string, labels ...string) func() float64 {
		return func() float64 { return value(scrape(t, sock), name, labels...) }
	}
	is := func(f func() float64, want float64) func() bool { return func() bool { return f() == want } }

	if v := metric("notifier_engine_up")(); v != 1 {
		t.Fatalf("notifier_engine_up = %v, want 1", v)
	}
	h.PagerDuty.FailNext(1, http.StatusBadRequest, "")
	if res := r.alarm(t, 1, "critical"); res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	await("the dead letter counted", is(metric("notifier_deliveries_total", "channel", "pager", "result", "dead_letter"), 1))
	await("its self-alert", func() bool { return len(slackTexts(h)) == 1 })
	expectSelfAlerts(t, h, 0, "channel pager gave up 1 delivery")
	if res := r.alarm(t, 2, "critical"); res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	await("its end", func() bool { return len(slackTexts(h)) == 2 })
	expectSelfAlerts(t, h, 1, "over: channel pager gave up")
	for _, id := range []int{10, 11} {
		if res := r.alarm(t, id, "warning"); res.Exit != 0 {
			t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
		}
	}
	await("the rate-limited warning", is(metric("notifier_events_total", "source", "cmon", "outcome", "rate_limited"), 1))

	good, err := os.ReadFile(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Config, append(good, []byte("\nrules: [\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	eng.cmd.Process.Signal(syscall.SIGHUP)
	await("the failed reload", is(metric("notifier_policy_last_good", "policy", h.Config), 1))
	await("its self-alert", func() bool { return len(slackTexts(h)) == 3 })
	expectSelfAlerts(t, h, 2, "its last good copy decides")
	if err := os.WriteFile(h.Config, good, 0o644); err != nil {
		t.Fatal(err)
	}
	eng.cmd.Process.Signal(syscall.SIGHUP)
	await("the policy loaded again", is(metric("notifier_policy_last_good", "policy", h.Config), 0))
	await("its end", func() bool { return len(slackTexts(h)) == 4 })
	expectSelfAlerts(t, h, 3, "over: the policy")

	fams := scrape(t, sock)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"notifier_events_total", []string{"source", "cmon", "outcome", "notified"}, 3},
		{"notifier_events_total", []string{"source", "cmon", "outcome", "rate_limited"}, 1},
		{"notifier_events_total", []string{"source", "pacemaker", "outcome", "notified"}, 0},
		{"notifier_deliveries_total", []string{"channel", "pager", "result", "ok"}, 1},
		{"notifier_deliveries_total", []string{"channel", "pager", "result", "dead_letter"}, 1},
		{"notifier_deliveries_total", []string{"channel", "capped", "result", "ok"}, 1},
		{"notifier_deliveries_total", []string{"channel", "ops", "result", "ok"}, 0},
		{"notifier_delivery_duration_seconds", []string{"channel", "pager"}, 2},
		{"notifier_engine_reloads_total", []string{"result", "failed"}, 1},
		{"notifier_engine_reloads_total", []string{"result", "ok"}, 1},
		{"notifier_self_alerts_total", []string{"condition", "dead_letter", "action", "trigger"}, 1},
		{"notifier_self_alerts_total", []string{"condition", "dead_letter", "action", "resolve"}, 1},
		{"notifier_self_alerts_total", []string{"condition", "policy_last_good", "action", "trigger"}, 1},
		{"notifier_self_alerts_total", []string{"condition", "policy_last_good", "action", "resolve"}, 1},
		{"notifier_state_fail_open_total", nil, 0},
		{"notifier_dead_letters", nil, 1},
		{"notifier_outbox_entries", nil, 0},
		{"notifier_spool_entries", []string{"queue", "new"}, 0},
		{"notifier_engine_up", nil, 1},
		{"notifier_build_info", nil, 1},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if value(fams, "go_goroutines") <= 0 || value(fams, "process_start_time_seconds") <= 0 {
		t.Errorf("no Go or process collector in /metrics")
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "notifier.prom")); err == nil {
		t.Errorf("the engine wrote the textfile: it is the in-process runs'")
	}
}

const stuckPolicy = `
settings:
  deadline: 2s
  metrics: {textfile: notifier.prom}
  self_alert: {notify: [ops, pager], after: 1s}
channels:
  pager: {type: pagerduty}
  ops: {type: slack}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
`

// TestE2ESelfAlertsStuck: a delivery waiting in the outbox, and an
// event waiting in the spool, for longer than self_alert.after are told
// (the stuck outbox not to its own channel), and resolved once flush
// has delivered and decided them. No engine: the runs and flush check.
func TestE2ESelfAlertsStuck(t *testing.T) {
	h := stateHarness(t, stuckPolicy, harness.Options{})
	r := &metricsRig{h: h, cache: filepath.Join(h.Dir, "cache")}

	// PagerDuty answers 503: the page waits in the outbox. The run
	// retries it for its whole deadline (2s), longer than after (1s), so
	// its own check finds it stuck.
	h.PagerDuty.FailNext(1000, http.StatusServiceUnavailable, "")
	if res := r.alarm(t, 40, "critical"); res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	expectSelfAlerts(t, h, 0, "queued in the outbox")
	expectSeries(t, "stuck", r.textfile(t), []series{
		{metrics.OutboxEntries, nil, 1},
		{metrics.SelfAlertOpen, []string{"outbox_stuck"}, 1},
	})

	// An event that nothing decides: notifier-drop cannot run notifier.
	p, err := h.StartCMONWith(testCtx(t), cmonAlarm(41, "new", "ALARM_CRITICAL", "db2"),
		harness.Invocation{Bin: mustDropBinary(t), Env: []string{"NOTIFIER_BIN=" + filepath.Join(h.Dir, "no-such-notifier")}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Wait(); err != nil || res.Exit != 1 {
		t.Fatalf("notifier-drop without notifier: exit %d, %v, want 1: %s", res.Exit, err, res.Stderr)
	}
	time.Sleep(1100 * time.Millisecond) // `after`: the condition's own time
	h.PagerDuty.Recover()
	// The next run finds the spooled event waiting for over `after`.
	if res := r.alarm(t, 42, "critical"); res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	if got := strings.Join(slackTexts(h), "\n"); !strings.Contains(got, "wait in the spool") {
		t.Fatalf("the stuck spool was not told: %q", slackTexts(h))
	}
	// flush decides it and delivers what is queued: both are over.
	mustCommand(t, h, 0, "flush")
	count := func(phrase string) int {
		n := 0
		for _, m := range h.Slack.Messages() {
			if strings.Contains(m.Text, phrase) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		phrase string
		want   int
	}{
		{"queued in the outbox", 2}, {"over: 1 delivery(ies) queued in the outbox", 1},
		{"wait in the spool", 2}, {"over: 1 event(s) wait in the spool", 1},
	} {
		if got := count(c.phrase); got != c.want {
			t.Errorf("Slack messages saying %q: %d, want %d (all: %q)", c.phrase, got, c.want, slackTexts(h))
		}
	}
	if n := len(h.Slack.Messages()); n != 4 {
		t.Errorf("Slack got %d messages, want 4: %q", n, slackTexts(h))
	}
	for _, e := range h.PagerDuty.Events() {
		if strings.HasPrefix(e.Event.DedupKey, "notifier-self/") && strings.Contains(e.Event.DedupKey, "outbox_stuck") {
			t.Errorf("the stuck outbox was told to PagerDuty, the channel it is stuck on")
		}
	}
	expectSeries(t, "after flush", r.promFile(t), []series{
		{metrics.OutboxEntries, nil, 0},
		{metrics.SpoolEntries, []string{"new"}, 0},
		{metrics.SelfAlertOpen, []string{"outbox_stuck"}, 0},
		{metrics.SelfAlertOpen, []string{"spool_stuck"}, 0},
		{metrics.SelfAlerts, []string{"outbox_stuck", "trigger"}, 1},
		{metrics.SelfAlerts, []string{"outbox_stuck", "resolve"}, 1},
		{metrics.SelfAlerts, []string{"spool_stuck", "trigger"}, 1},
		{metrics.SelfAlerts, []string{"spool_stuck", "resolve"}, 1},
		{metrics.Events, []string{"cmon", "notified"}, 3},
	})
}
