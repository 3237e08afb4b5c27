package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"notifier/engine"
	"notifier/engine/pipeline"
	"notifier/engine/state"
)

func sample() *Set {
	s := NewSet()
	s.Add(Events, 3, "cmon", OutcomeNotified)
	s.Add(Events, 1, "pacemaker", OutcomeGrouped)
	s.Add(Deliveries, 2, `we"ird\chan`+"\nnel", ResultOK)
	s.Observe(DeliveryDuration, 0.003, "pager")
	s.Observe(DeliveryDuration, 0.3, "pager")
	s.Observe(DeliveryDuration, 30, "pager")
	s.Add(FailOpen, 1)
	s.Set(OutboxEntries, 4)
	s.Set(ChannelFailing, 1, "pager")
	s.Set(PolicyLastGood, 1, "/etc/notifier/notifier.yaml")
	s.Set(EngineUp, 1) // engine only: never written
	return s
}

func text(s *Set) string {
	var b bytes.Buffer
	s.WriteText(&b)
	return b.String()
}

// What the textfile holds is Prometheus' text format, as its own parser
// reads it, with the values observed.
func TestWriteTextIsPrometheusText(t *testing.T) {
	out := text(sample())
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("expfmt: %v\n%s", err, out)
	}
	if _, ok := fams[EngineUp.Name]; ok {
		t.Errorf("engine-only %s written", EngineUp.Name)
	}
	ev := fams[Events.Name]
	if ev == nil || len(ev.Metric) != 2 {
		t.Fatalf("events: %v", ev)
	}
	h := fams[DeliveryDuration.Name].Metric[0].Histogram
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 30.303 {
		t.Errorf("histogram count %d sum %v, want 3 and 30.303", h.GetSampleCount(), h.GetSampleSum())
	}
	// Cumulative: 1 at or below 0.01, 2 at or below 0.5, 2 at 20.
	want := map[float64]uint64{0.01: 1, 0.05: 1, 0.25: 1, 0.5: 2, 20: 2}
	for _, b := range h.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	d := fams[Deliveries.Name].Metric[0]
	if got := d.Label[0].GetValue(); got != `we"ird\chan`+"\nnel" {
		t.Errorf("escaped label read back as %q", got)
	}
}

// ParseText reads back exactly what WriteText wrote.
func TestParseTextRoundTrip(t *testing.T) {
	s := sample()
	first := text(s)
	back, bad := ParseText([]byte(first))
	if bad != 0 {
		t.Fatalf("%d bad lines", bad)
	}
	if again := text(back); again != first {
		t.Errorf("round trip differs:\n%s\n---\n%s", first, again)
	}
	// Lines of other families or versions are left out, counted.
	junk := first + "other_metric 1\nnotifier_events_total{source=\"cmon\"} 2\nnotifier_delivery_duration_seconds_bucket{channel=\"x\",le=\"0.3\"} 1\nnot a line\n"
	if _, bad := ParseText([]byte(junk)); bad != 4 {
		t.Errorf("bad lines: %d, want 4", bad)
	}
}

// Counters and histograms add up; a gauge takes the newer value; a
// family Reset by the newer set is replaced whole.
func TestMerge(t *testing.T) {
	old := sample()
	old.Set(ChannelFailing, 1, "slack")
	run := NewSet()
	run.Add(Events, 2, "cmon", OutcomeNotified)
	run.Observe(DeliveryDuration, 0.003, "pager")
	run.Set(OutboxEntries, 0)
	run.Reset(ChannelFailing)
	run.Set(ChannelFailing, 1, "teams")
	run.Merge(old)
	for _, c := range []struct {
		d      *Def
		labels []string
		want   float64
	}{
		{Events, []string{"cmon", OutcomeNotified}, 5},
		{Events, []string{"pacemaker", OutcomeGrouped}, 1},
		{DeliveryDuration, []string{"pager"}, 4},
		{FailOpen, nil, 1},
		{OutboxEntries, nil, 0},
		{ChannelFailing, []string{"pager"}, 0},
		{ChannelFailing, []string{"slack"}, 0},
		{ChannelFailing, []string{"teams"}, 1},
		{PolicyLastGood, []string{"/etc/notifier/notifier.yaml"}, 1},
	} {
		if got := run.Value(c.d, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.d.Name, c.labels, got, c.want)
		}
	}
}

// Concurrent updates of one textfile (as the runs Pacemaker starts at
// once make) lose no count.
func TestUpdateTextfileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s := NewSet()
			s.Add(Events, 1, "cmon", OutcomeNotified)
			s.Set(OutboxEntries, float64(i))
			errs <- UpdateTextfile(path, s, 10*time.Second, false)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// With the journal folded in: every count, though the textfile was
	// rewritten once (the first) and the rest appended.
	got, err := ReadTextfile(path)
	if err != nil || got.Value(Events, "cmon", OutcomeNotified) != n {
		t.Fatalf("after %d updates: %v (%v)", n, got.Value(Events, "cmon", OutcomeNotified), err)
	}
	// A forced rewrite (notifier flush) puts them all in the textfile.
	g := NewSet()
	g.Set(DeadLetters, 3)
	if err := UpdateTextfile(path, g, time.Second, true); err != nil {
		t.Fatalf("forced rewrite: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prom, bad := ParseText(data)
	if bad != 0 || prom.Value(Events, "cmon", OutcomeNotified) != n || prom.Value(DeadLetters) != 3 {
		t.Fatalf("textfile after the rewrite: %v, dead letters %v (bad %d)\n%s", prom.Value(Events, "cmon", OutcomeNotified), prom.Value(DeadLetters), bad, data)
	}
	if j, _ := os.ReadFile(path + ".journal"); len(j) != 0 {
		t.Errorf("journal not emptied by the rewrite: %d bytes", len(j))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode %v (%v), want 0644: node_exporter reads it", fi.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A textfile that is a link is not written through.
func TestUpdateTextfileRefusesALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "notifier.prom")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	err := UpdateTextfile(path, sample(), time.Second, false)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err = %v, want the link refused", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep\n" {
		t.Errorf("the link's target was changed: %q", data)
	}
}

// The lock is waited for at most the bound given.
func TestUpdateTextfileBoundedWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = lockedFor(path, held, release)
	}()
	<-held
	err := UpdateTextfile(path, sample(), 50*time.Millisecond, false)
	close(release)
	if err == nil || !strings.Contains(err.Error(), "still held") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func planned(o ...state.Outcome) []state.Planned {
	var out []state.Planned
	for _, x := range o {
		out = append(out, state.Planned{Outcome: x})
	}
	return out
}

func TestEventOutcome(t *testing.T) {
	for _, c := range []struct {
		send, skip []state.Outcome
		dropped    bool
		want       string
	}{
		{send: []state.Outcome{state.OutcomeFirst}, want: OutcomeNotified},
		{send: []state.Outcome{state.OutcomeFirst}, skip: []state.Outcome{state.OutcomeSilenced}, want: OutcomeNotified},
		{send: []state.Outcome{state.OutcomeDigest}, skip: []state.Outcome{state.OutcomeGrouped}, want: OutcomeGrouped},
		{skip: []state.Outcome{state.OutcomeSuppressed, state.OutcomeSilenced}, want: OutcomeSilenced},
		{skip: []state.Outcome{state.OutcomeCounted}, want: OutcomeSuppressed},
		{skip: []state.Outcome{state.OutcomeRateLimited}, want: OutcomeRateLimited},
		{skip: []state.Outcome{state.OutcomeInhibited, state.OutcomeDuplicate}, want: OutcomeInhibited},
		{skip: []state.Outcome{state.OutcomeSkipped}, want: OutcomeUnmatched},
		{dropped: true, want: OutcomeDropped},
		{want: OutcomeUnmatched},
	} {
		r := &pipeline.Report{Decision: &engine.Decision{Dropped: c.dropped}, Plan: state.Result{Send: planned(c.send...), Skip: planned(c.skip...)}}
		if got := EventOutcome(r); got != c.want {
			t.Errorf("send %v skip %v dropped %v: %s, want %s", c.send, c.skip, c.dropped, got, c.want)
		}
	}
}

func TestDeliveryResult(t *testing.T) {
	for _, c := range []struct {
		d    pipeline.Delivery
		want string
	}{
		{pipeline.Delivery{Outcome: state.OutcomeDelivered}, ResultOK},
		{pipeline.Delivery{Outcome: state.OutcomeQueued}, ResultRetried},
		{pipeline.Delivery{Outcome: state.OutcomeQueued, RetryAfter: time.Second}, ResultRateLimited},
		{pipeline.Delivery{Outcome: state.OutcomeFailed}, ResultDeadLetter},
		{pipeline.Delivery{Outcome: pipeline.OutcomeUndelivered}, ResultFailed},
	} {
		if got := DeliveryResult(c.d); got != c.want {
			t.Errorf("%+v: %s, want %s", c.d, got, c.want)
		}
	}
}

// Zero makes every series of the policy's channels exist.
func TestZero(t *testing.T) {
	s := NewSet()
	Zero(s, []string{"pager", "ops"})
	var b bytes.Buffer
	s.WriteText(&b)
	for _, want := range []string{
		`notifier_deliveries_total{channel="ops",result="dead_letter"} 0`,
		`notifier_events_total{source="pacemaker",outcome="rejected"} 0`,
		`notifier_self_alerts_total{condition="state_fail_open",action="resolve"} 0`,
		"notifier_state_fail_open_total 0",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
	if n := strings.Count(b.String(), "notifier_events_total{"); n != len(Sources)*len(Outcomes) {
		t.Errorf("%d event series, want %d", n, len(Sources)*len(Outcomes))
	}
}

// Every family is named as Prometheus users expect.
func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range All {
		if !strings.HasPrefix(d.Name, "notifier_") || seen[d.Name] {
			t.Errorf("%s: want a notifier_ prefix, once", d.Name)
		}
		seen[d.Name] = true
		if (d.Kind == Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: counters, and only they, end in _total", d.Name)
		}
		if d.Kind == Histogram && (!strings.HasSuffix(d.Name, "_seconds") || !slices.IsSorted(d.Buckets)) {
			t.Errorf("%s: a histogram in seconds, buckets ascending", d.Name)
		}
		if d.Help == "" {
			t.Errorf("%s: no help", d.Name)
		}
	}
}

// A rewrite that a crash stopped before it emptied the journal counts
// nothing twice: the textfile says the last block it holds.
func TestJournalFoldedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	add := func(force bool) {
		s := NewSet()
		s.Add(Events, 1, "pacemaker", OutcomeDuplicate)
		if err := UpdateTextfile(path, s, time.Second, force); err != nil {
			t.Fatal(err)
		}
	}
	add(true) // the textfile, now fresh
	add(false)
	add(false)
	journal, err := os.ReadFile(path + ".journal")
	if err != nil || !strings.Contains(string(journal), "@") {
		t.Fatalf("journal: %q %v", journal, err)
	}
	add(true) // folds the two blocks, empties the journal
	// The crash: the journal as it was before the rewrite emptied it.
	if err := os.WriteFile(path+".journal", journal, 0o660); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTextfile(path)
	if err != nil || got.Value(Events, "pacemaker", OutcomeDuplicate) != 4 {
		t.Fatalf("read: %v (%v), want 4", got.Value(Events, "pacemaker", OutcomeDuplicate), err)
	}
	add(true)
	data, _ := os.ReadFile(path)
	if s, _ := ParseText(data); s.Value(Events, "pacemaker", OutcomeDuplicate) != 5 {
		t.Fatalf("after the next rewrite: %v, want 5\n%s", s.Value(Events, "pacemaker", OutcomeDuplicate), data)
	}
	// The lock file's block number lost: the next run rewrites, and
	// loses nothing.
	if err := os.WriteFile(path+".lock", nil, 0o660); err != nil {
		t.Fatal(err)
	}
	add(false)
	data, _ = os.ReadFile(path)
	if s, _ := ParseText(data); s.Value(Events, "pacemaker", OutcomeDuplicate) != 6 {
		t.Fatalf("after the block number was lost: %v, want 6", s.Value(Events, "pacemaker", OutcomeDuplicate))
	}
	// Gauges replaced whole travel through the journal too.
	g := NewSet()
	g.Reset(ChannelFailing)
	g.Set(ChannelFailing, 1, "slack")
	old := NewSet()
	old.Set(ChannelFailing, 1, "pager")
	if err := UpdateTextfile(path, old, time.Second, true); err != nil {
		t.Fatal(err)
	}
	if err := UpdateTextfile(path, g, time.Second, false); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadTextfile(path)
	if got.Value(ChannelFailing, "pager") != 0 || got.Value(ChannelFailing, "slack") != 1 {
		t.Errorf("reset through the journal: pager %v slack %v, want 0 and 1", got.Value(ChannelFailing, "pager"), got.Value(ChannelFailing, "slack"))
	}
}

func one(src string) *Set {
	s := NewSet()
	s.Add(Events, 1, src, OutcomeNotified)
	return s
}

// The journal is 0660 whatever the umask: root's runs (CMON, the flush
// timer) and Pacemaker's hacluster append to it.
func TestJournalModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "notifier.prom")
	for _, rewrite := range []bool{true, false} {
		if err := UpdateTextfile(path, one("cmon"), time.Second, rewrite); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{".journal", ".lock"} {
		if fi, err := os.Stat(path + f); err != nil || fi.Mode().Perm() != 0o660 {
			t.Errorf("%s: %v (%v), want 0660", f, fi.Mode().Perm(), err)
		}
	}
}

// Due: no textfile, one RewriteEvery old, one from the future (a clock
// set back), a journal too long; not due: a fresh one.
func TestTextfileDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	now := time.Now()
	if !TextfileDue(path, now) {
		t.Error("no textfile: not due")
	}
	if err := UpdateTextfile(path, one("cmon"), time.Second, true); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) {
		if err := os.Chtimes(path, now.Add(d), now.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		mtime time.Duration
		want  bool
	}{{-time.Second, false}, {-RewriteEvery, true}, {time.Hour, true}} {
		at(c.mtime)
		if got := TextfileDue(path, now); got != c.want {
			t.Errorf("textfile %v from now: due %v, want %v", c.mtime, got, c.want)
		}
	}
	at(-time.Second)
	if err := os.WriteFile(path+".journal", make([]byte, maxJournal), 0o660); err != nil {
		t.Fatal(err)
	}
	if !TextfileDue(path, now) {
		t.Error("a journal of maxJournal: not due")
	}
}

// A block cut short mid-line (a short write) neither swallows the next
// block nor is counted with it.
func TestCutBlockKeepsTheNext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	if err := UpdateTextfile(path, NewSet(), time.Second, true); err != nil {
		t.Fatal(err)
	}
	cut := "\n@1\nnotifier_events_total{source=\"cmon\",outcome=\"notified\"} 1\nnotifier_events_total{source=\"pace"
	if err := os.WriteFile(path+".journal", []byte(cut), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := UpdateTextfile(path, one("cmon"), time.Second, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadTextfile(path); got.Value(Events, "cmon", OutcomeNotified) != 2 {
		j, _ := os.ReadFile(path + ".journal")
		t.Fatalf("cmon %v, want 2 (1 in the cut block, 1 in the next)\n%q", got.Value(Events, "cmon", OutcomeNotified), j)
	}
}

// The premise of UpdateTextfile's refusal: through a lock file opened
// read-only (another user's, without the group's write bit) no block
// number can be taken, so UpdateTextfile fails rather than write a block
// under a number that does not move (skipped once the textfile holds
// it). Root cannot be refused the open itself here.
func TestSeqNeedsAWritableLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.prom")
	if err := UpdateTextfile(path, one("cmon"), time.Second, true); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path+".lock", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeSeq(f, 7); err == nil {
		t.Fatal("wrote through a read-only descriptor")
	}
	seq, err := readSeq(f)
	if err != nil || seq == 0 {
		t.Fatalf("seq %d, %v", seq, err)
	}
}

// The last good flag of a policy path that no longer exists is dropped
// at the next rewrite; one that exists is kept.
func TestGonePolicyPathDropped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notifier.prom")
	here, gone := filepath.Join(dir, "here.yaml"), filepath.Join(dir, "gone.yaml")
	for _, p := range []string{here, gone} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s := NewSet()
		s.Set(PolicyLastGood, 1, p)
		if err := UpdateTextfile(path, s, time.Second, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if err := UpdateTextfile(path, NewSet(), time.Second, true); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "gone.yaml") || !strings.Contains(string(data), "here.yaml") {
		t.Errorf("after the rewrite:\n%s", data)
	}
}
