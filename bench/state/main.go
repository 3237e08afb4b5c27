// Command state measures the state pipeline as whole processes (issue 3);
// bench/state.sh builds the programs and runs it.
//
//	alarms: N distinct CMON alarms, one notifier process each, P at a
//	  time, delivered to a local PagerDuty endpoint (bench/pdserver);
//	  against bench/post, which only posts each event, in interleaved
//	  batches. Reports the ratio of the total wall times.
//	storm: S processes of one alarm started at once; the wall time from
//	  the first fork to the last exit. Against S posts for scale.
//	bolt: what one state transaction costs on the same file system.
//
// With -tls the endpoint serves HTTPS with a CA made at start, which
// notifier trusts through SSL_CERT_FILE and post through -ca (see
// -roots); with -latency it answers each event that long after it
// arrived. After the alarms it reports, for each program, when the
// endpoint accepted the last trigger relative to the last process's
// exit: ~0 or negative for a program that delivers before it exits, the
// delivery tail for one that hands events to something else.
//
// With -engine (issue 11) a resident `notifier serve` runs on the
// benchmark's policy and spool for the whole run, started before the
// warm-up; with -drop BIN the alarms and storms run BIN (notifier-drop,
// which hands each event to the engine, or execs the notifier beside it
// when none claims) instead of the notifier. Because the engine delivers
// after the invocation exited, each notifier batch is followed, untimed,
// by a wait until the endpoint has every trigger of the batch, so that no
// delivery is charged to the next batch of post; the time to the last
// acceptance is reported besides the process wall time. The engine's
// memory (VmRSS, VmHWM) is printed after start, after the alarms and
// after the storms, and its CPU time per event; before the endpoint's
// counts are checked, the run waits until the spool is empty and the
// endpoint has had no request for a second, so a duplicate page would be
// seen. Every invocation gets NOTIFIER_SPOOL (DIR/spool): nothing touches
// /var/lib, and a notifier from before issue 11 ignores it.
//
// Every notifier run must exit 0 without a word on stderr (else it stops
// at once), and the endpoint must have accepted exactly one trigger per
// alarm (else it exits 1 after the numbers, which are then not valid).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"notifier/engine/spool"
	"notifier/engine/state"
	"notifier/engine/state/bolt"
	"notifier/internal/harness"
)

// routingKey is any 32 characters: the endpoint checks only the length.
const routingKey = "bench0routing0key000000000000001"

type config struct {
	notifier, post, pdserver, event string
	dir                             string
	drop                            string // run this per alarm instead of notifier (notifier-drop)
	engine                          bool   // run `notifier serve` for the whole run
	engineArgs                      string // more arguments for notifier serve, split on spaces
	claimWait                       string // $NOTIFIER_CLAIM_WAIT for the invocations, when set
	n, parallel, batch              int
	stormN, stormRuns               int
	boltOps                         int
	tls, noH2                       bool
	roots                           string
	latency                         time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.notifier, "notifier", "", "the notifier binary")
	flag.StringVar(&c.post, "post", "", "the bench/post binary (baseline)")
	flag.StringVar(&c.pdserver, "pdserver", "", "the bench/pdserver binary")
	flag.StringVar(&c.event, "event", "examples/events/cmon/alarm-new-critical.json", "the CMON alarm to send (its id is replaced)")
	flag.StringVar(&c.dir, "dir", "", "directory for the state file, policy and last good policy (must exist; its file system is what is measured)")
	flag.IntVar(&c.n, "n", 1000, "alarms: distinct alarms, one process each")
	flag.IntVar(&c.parallel, "parallel", 16, "alarms: processes at a time")
	flag.IntVar(&c.batch, "batch", 100, "alarms: processes per batch; batches of notifier and baseline alternate")
	flag.IntVar(&c.stormN, "storm", 200, "storm: processes of one alarm started at once")
	flag.IntVar(&c.stormRuns, "storm-runs", 10, "storm: repetitions (a new alarm each)")
	flag.IntVar(&c.boltOps, "bolt-ops", 300, "bolt: transactions timed (0: none)")
	flag.BoolVar(&c.tls, "tls", false, "the endpoint serves HTTPS (a CA made at start, trusted through SSL_CERT_FILE and post -ca)")
	flag.BoolVar(&c.noH2, "no-h2", false, "with -tls: the endpoint offers HTTP/1.1 only")
	flag.StringVar(&c.roots, "roots", "ca", "with -tls, what both programs trust: ca (only the endpoint's CA) or system (the system's roots and the CA, loaded anew by every process)")
	flag.DurationVar(&c.latency, "latency", 0, "the endpoint answers each event this long after it arrived")
	flag.StringVar(&c.drop, "drop", "", "run this binary per alarm instead of -notifier (notifier-drop; it execs the notifier beside it)")
	flag.BoolVar(&c.engine, "engine", false, "run `NOTIFIER serve` on the policy and spool for the whole run (issue 11)")
	flag.StringVar(&c.engineArgs, "engine-args", "", "more arguments for `notifier serve` (split on spaces), e.g. \"--workers 64\"")
	flag.StringVar(&c.claimWait, "claim-wait", "", "set $NOTIFIER_CLAIM_WAIT for the invocations (a Go duration; 0: never wait for an engine)")
	flag.Parse()
	if c.notifier == "" || c.post == "" || c.pdserver == "" || c.dir == "" {
		fail("-notifier, -post, -pdserver and -dir are required")
	}
	// The engine is given the policy's path as the invocations name it:
	// absolute, so the entries it is offered are its own.
	var err error
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		fail(err.Error())
	}
	if err := bench(c); err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "state bench:", msg)
	os.Exit(1)
}

// endpoint is a running bench/pdserver.
type endpoint struct {
	cmd              *exec.Cmd
	stop             func()
	eventsURL, stats string
}

func startEndpoint(bin string, args ...string) (*endpoint, error) {
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("pdserver said %q: %v", line, err)
	}
	return &endpoint{cmd: cmd, eventsURL: f[0], stats: f[1], stop: func() { stdin.Close(); cmd.Wait() }}, nil
}

// endpointStats is what bench/pdserver reports (its type stats).
type endpointStats struct {
	Requests   int              `json:"requests"`
	Accepted   map[string]int   `json:"accepted"`    // accepted triggers per dedup key
	AcceptedAt map[string]int64 `json:"accepted_at"` // first acceptance per key, Unix ns
	Conns      int              `json:"conns"`
	Protos     map[string]int   `json:"protos"`
}

func (e *endpoint) get() (*endpointStats, error) {
	resp, err := http.Get(e.stats)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s endpointStats
	return &s, json.NewDecoder(resp.Body).Decode(&s)
}

// accepted returns the endpoint's count of accepted triggers per key.
func (e *endpoint) accepted() (map[string]int, error) {
	s, err := e.get()
	if err != nil {
		return nil, err
	}
	return s.Accepted, nil
}

func bench(c config) error {
	var epArgs, postArgs, tlsEnv, postEnv []string
	if c.tls {
		ca := filepath.Join(c.dir, "ca.pem")
		epArgs = append(epArgs, "-tls", "-ca-out", ca)
		if c.noH2 {
			epArgs = append(epArgs, "-no-h2")
		}
		// Go on Linux reads SSL_CERT_FILE instead of the system's
		// bundle but still every file in SSL_CERT_DIR (default
		// /etc/ssl/certs): what each process parses at its first
		// handshake, so both programs must get the same.
		switch c.roots {
		case "ca":
			none := filepath.Join(c.dir, "no-certs")
			if err := os.MkdirAll(none, 0o755); err != nil {
				return err
			}
			tlsEnv = []string{"SSL_CERT_FILE=" + ca, "SSL_CERT_DIR=" + none}
			postArgs = []string{"-ca", ca}
		case "system":
			tlsEnv = []string{"SSL_CERT_FILE=" + ca}
			postEnv = tlsEnv
		default:
			return fmt.Errorf("-roots %q: want ca or system", c.roots)
		}
	}
	if c.latency > 0 {
		epArgs = append(epArgs, "-latency", c.latency.String())
	}
	ep, err := startEndpoint(c.pdserver, epArgs...)
	if err != nil {
		return err
	}
	defer ep.stop()
	keyFile := filepath.Join(c.dir, "pd.key")
	policy := filepath.Join(c.dir, "notifier.yaml")
	if err := os.WriteFile(keyFile, []byte(routingKey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(policy, fmt.Appendf(nil, policyText, filepath.Join(c.dir, "state.db"), keyFile, ep.eventsURL), 0o644); err != nil {
		return err
	}
	template, err := os.ReadFile(c.event)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	spoolDir := filepath.Join(c.dir, "spool")
	// As CMON runs plugins: no arguments, nothing in the environment but
	// where the policy, its last good copy and the spool are.
	// SSL_CERT_FILE (with -tls) is how an operator would make it trust a
	// private CA.
	env := append([]string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=" + filepath.Join(c.dir, "cache"), "NOTIFIER_SPOOL=" + spoolDir}, tlsEnv...)
	invoked := c.notifier
	if c.drop != "" {
		invoked = c.drop
	}
	invEnv := env
	if c.claimWait != "" {
		invEnv = append(slices.Clone(env), "NOTIFIER_CLAIM_WAIT="+c.claimWait)
	}
	w := &workload{
		template:  template,
		notifier:  job{argv: []string{invoked}, env: invEnv, quiet: true},
		post:      job{argv: append([]string{c.post, "-url", ep.eventsURL, "-key", routingKey}, postArgs...), env: postEnv, quiet: true},
		keyOf:     func(id string) string { return "cmon/" + host + "/1/" + id },
		postKeyOf: func(id string) string { return "post/1/" + id },
	}

	fmt.Printf("state file: %s (%s)\n", filepath.Join(c.dir, "state.db"), fsType(c.dir))
	fmt.Printf("invoked per alarm: %s\n", invoked)
	var eng *engine
	if c.engine {
		if eng, err = startEngine(c.notifier, policy, spoolDir, env, filepath.Join(c.dir, "engine.log"), strings.Fields(c.engineArgs)...); err != nil {
			return err
		}
		defer func() {
			if eng != nil {
				eng.stop()
			}
		}()
		fmt.Printf("engine: %s (pid %d)\n", strings.Join(eng.cmd.Args, " "), eng.cmd.Process.Pid)
		// Idle after start: what it holds once the policy is compiled
		// and the stores and channels are open, before any event.
		time.Sleep(2 * time.Second)
		eng.printMemory("idle, 2 s after start")
		w.settle = func(ids []string) error { return waitAccepted(ep, w.keyOf, ids) }
		w.drain = func() (time.Time, error) { return drained(spoolDir) }
	}
	fmt.Printf("endpoint: %s, answering after %s", ep.eventsURL, c.latency)
	if c.tls {
		fmt.Printf("; both trust roots: %s", c.roots)
	}
	fmt.Println()
	// Warm-up, untimed: page cache, the last good policy, the state file.
	if _, err := w.alarms(c.parallel, 32, 32, 9_000_000); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	fmt.Printf("\n== alarms: %d distinct alarms as %d processes, %d at a time, batches of %d alternating ==\n", c.n, c.n, c.parallel, c.batch)
	var cpu0 time.Duration
	if eng != nil {
		cpu0 = eng.cpu()
	}
	a, err := w.alarms(c.parallel, c.n, c.batch, 1_000_000)
	if err != nil {
		return err
	}
	a.print()
	if err := w.tail(ep, a, 1_000_000); err != nil {
		return err
	}
	if eng != nil {
		fmt.Printf("engine CPU during the alarms: %.2f ms per alarm (add to notifier's CPU per process above)\n", float64((eng.cpu()-cpu0).Microseconds())/1000/float64(c.n))
		eng.printMemory("after the alarms")
	}
	check := []func() error{func() error { return w.verify(ep, 1_000_000, c.n, 1) }}

	if c.stormRuns > 0 { // -storm-runs 0: alarms only (FLOOR=1, which does not suppress)
		fmt.Printf("\n== storm: %d processes of one alarm started at once, %d times (a new alarm each) ==\n", c.stormN, c.stormRuns)
		s, err := w.storms(c.stormN, c.stormRuns, 5_000_000)
		if err != nil {
			return err
		}
		s.print()
		check = append(check, func() error { return w.verify(ep, 5_000_000, c.stormRuns, 1) })
		if eng != nil {
			eng.printMemory("after the storms")
		}
	}
	if eng != nil {
		if err := quiesce(ep, spoolDir); err != nil {
			return err
		}
		eng.printMemory("idle again, after the spool emptied and 1 s without a request")
		// Its counts say how many invocations it took: the others timed
		// out waiting for its answer (or were declined) and were
		// decided in-process by their invocation.
		if st, err := spool.AskStatus(spoolDir, time.Second); err == nil {
			data, _ := json.Marshal(st)
			fmt.Printf("engine status: %s\n", data)
		}
		err := eng.stop()
		eng = nil
		if err != nil {
			return fmt.Errorf("notifier serve, stopped with SIGTERM: %v", err)
		}
		_, _, bad, _ := harness.SpoolDepth(spoolDir)
		logged, _ := os.ReadFile(filepath.Join(c.dir, "engine.log"))
		fmt.Printf("engine: exited 0 on SIGTERM; spool bad/ %d entries; its log %d lines, the last: %s\n", bad, bytes.Count(logged, []byte("\n")), lastLines(string(logged), 1))
	}
	var wrong error
	for _, f := range check {
		wrong = errors.Join(wrong, f())
	}

	if c.boltOps > 0 {
		fmt.Printf("\n== bolt: one state transaction on this file system, %d times, one process ==\n", c.boltOps)
		if err := boltCost(filepath.Join(c.dir, "probe.db"), c.boltOps); err != nil {
			return err
		}
	}
	if wrong != nil {
		return fmt.Errorf("the numbers above are not valid: PagerDuty did not receive what it should have:\n%w", wrong)
	}
	return nil
}

// policyText pages critical alarms once per 30 minutes: the shipped
// policy's critical rule.
const policyText = `settings:
  deadline: 20s
  state: {path: %q}
channels:
  pager: {type: pagerduty, routing_key_file: %q, events_url: %q}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
    suppress: {for: 30m}
`

// verify checks that the endpoint accepted want triggers for each of the
// n alarms numbered from base.
func (w *workload) verify(ep *endpoint, base, n, want int) error {
	got, err := ep.accepted()
	if err != nil {
		return err
	}
	var bad []string
	for i := range n {
		if k := w.keyOf(fmt.Sprint(base + i)); got[k] != want {
			bad = append(bad, fmt.Sprintf("%s: %d triggers accepted, want %d", k, got[k], want))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d alarms were not paged exactly %d time(s): %s", len(bad), n, want, strings.Join(bad[:min(3, len(bad))], "; "))
	}
	return nil
}

// boltCost times state transactions like a suppressed run's (one window
// record and one history line, committed) and like the reads every run
// makes (a scan under the shared lock).
func boltCost(path string, ops int) error {
	st, err := bolt.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	var upd, scan []time.Duration
	for i := range ops {
		t0 := time.Now()
		err := st.Update(ctx, []string{"w/critical/k"}, func(recs map[string]*state.Record) error {
			recs["w/critical/k"] = &state.Record{Data: fmt.Appendf(nil, `{"last_notified":"2026-01-01T00:00:00Z","suppressed":%d}`, i)}
			h := state.HistoryEntry{Time: time.Now(), Key: "k", Outcome: "suppressed", Reason: "suppressed until ..."}
			id, r, err := h.Record()
			recs[id] = r
			return err
		})
		if err != nil {
			return err
		}
		t1 := time.Now()
		if _, err := st.Scan(ctx, state.OutboxPrefix); err != nil {
			return err
		}
		upd, scan = append(upd, t1.Sub(t0)), append(scan, time.Since(t1))
	}
	fmt.Printf("Update (lock, open, write, commit with fsync, close): median %s  p90 %s\n", ms(median(upd)), ms(pct(upd, 90)))
	fmt.Printf("Scan   (shared lock, open read-only, read, close):    median %s  p90 %s\n", ms(median(scan)), ms(pct(scan, 90)))
	return nil
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// fsType names the file system dir is on, from /proc/mounts (longest
// matching mount point).
func fsType(dir string) string {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "file system unknown"
	}
	abs, _ := filepath.Abs(dir)
	abs, _ = filepath.EvalSymlinks(abs)
	best, typ := "", "unknown"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if (abs == f[1] || strings.HasPrefix(abs, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) > len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ + " mounted on " + best
}
