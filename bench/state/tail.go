package main

import (
	"fmt"
	"strings"
	"time"

	"notifier/internal/harness"
)

// tailWait bounds how long tail waits for the endpoint to have every
// trigger: far past the 2 s, so a slow tail is measured rather
// than cut off.
const tailWait = 60 * time.Second

// tail waits until the endpoint has accepted a trigger for every alarm of
// r from both programs (or tailWait passes), then prints, for each
// program, when the last trigger was accepted relative to the exit of its
// last process: over the whole run, and in the worst batch (each batch's
// last trigger against that batch's last exit). The times are the
// endpoint's own, on this machine's clock.
func (w *workload) tail(ep *endpoint, r *alarmsResult, base int) error {
	deadline := time.Now().Add(tailWait)
	var s *endpointStats
	for {
		var err error
		if s, err = ep.get(); err != nil {
			return err
		}
		if w.allAccepted(s, r.n, base) || time.Now().After(deadline) {
			break
		}
		// Polling only learns when to stop: the times printed are
		// the endpoint's records, not when this loop saw them.
		time.Sleep(20 * time.Millisecond)
	}
	var delivered [2]time.Duration
	for pi, p := range []struct {
		name          string
		keyOf         func(string) string
		starts, exits []time.Time
	}{{"notifier", w.keyOf, r.startN, r.exitN}, {"post", w.postKeyOf, r.startPost, r.exitPost}} {
		var last time.Time
		worst, missing := time.Duration(-1<<63), 0
		var tails []string
		for b, exit := range p.exits {
			var batchLast time.Time
			for i := b * r.batch; i < min(r.n, (b+1)*r.batch); i++ {
				ns, ok := s.AcceptedAt[p.keyOf(fmt.Sprint(base+i))]
				if !ok {
					missing++
					continue
				}
				if t := time.Unix(0, ns); t.After(batchLast) {
					batchLast = t
				}
			}
			worst = max(worst, batchLast.Sub(exit))
			tails = append(tails, relative(batchLast.Sub(exit)))
			end := exit
			if batchLast.After(end) {
				end = batchLast
			}
			delivered[pi] += end.Sub(p.starts[b])
			if batchLast.After(last) {
				last = batchLast
			}
		}
		lastExit := p.exits[len(p.exits)-1]
		for _, e := range p.exits {
			if e.After(lastExit) {
				lastExit = e
			}
		}
		fmt.Printf("%-9s all accepted %s the last process exited (worst batch: %s its last exit)", p.name+":", relative(last.Sub(lastExit)), relative(worst))
		if missing > 0 {
			fmt.Printf("; %d NOT accepted within %s", missing, tailWait)
		}
		if len(tails) <= 10 {
			fmt.Printf("; per batch, its last acceptance: %s its last exit", strings.Join(tails, ", "))
		}
		fmt.Println()
	}
	fmt.Printf("until delivered (each batch's first fork to its last acceptance or last exit, whichever is later, summed): notifier %.3f s, post %.3f s, ratio %.2fx\n",
		delivered[0].Seconds(), delivered[1].Seconds(), float64(delivered[0])/float64(delivered[1]))
	fmt.Printf("endpoint: %d connections so far (with -tls each is a full handshake; warm-up included), enqueue requests by HTTP version %v\n", s.Conns, s.Protos)
	return nil
}

// waitAccepted returns once the endpoint has accepted a trigger for
// every one of ids (keyOf gives their keys), or an error after tailWait.
func waitAccepted(ep *endpoint, keyOf func(string) string, ids []string) error {
	deadline := time.Now().Add(tailWait)
	for {
		s, err := ep.get()
		if err != nil {
			return err
		}
		missing := 0
		for _, id := range ids {
			if _, ok := s.AcceptedAt[keyOf(id)]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d alarms not accepted by the endpoint within %s of the batch's last exit", missing, len(ids), tailWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained returns when it finds the spool's new/ and claimed/ empty, or
// an error after tailWait.
func drained(spool string) (time.Time, error) {
	deadline := time.Now().Add(tailWait)
	for {
		if queued, claimed, _, _ := harness.SpoolDepth(spool); queued+claimed == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("entries still queued or claimed in %s %s after a storm", spool, tailWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quiesce returns once the spool has no entry queued or claimed and the
// endpoint has had no request for a second (so a late duplicate page
// would have arrived), or an error after tailWait.
func quiesce(ep *endpoint, spool string) error {
	deadline := time.Now().Add(tailWait)
	last, since := -1, time.Now()
	for {
		s, err := ep.get()
		if err != nil {
			return err
		}
		if s.Requests != last {
			last, since = s.Requests, time.Now()
		}
		queued, claimed, _, _ := harness.SpoolDepth(spool)
		queued += claimed
		if queued == 0 && time.Since(since) >= time.Second {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the engine did not go quiet within %s: %d entries queued or claimed in %s", tailWait, queued, spool)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *workload) allAccepted(s *endpointStats, n, base int) bool {
	for i := range n {
		id := fmt.Sprint(base + i)
		if _, ok := s.AcceptedAt[w.keyOf(id)]; !ok {
			return false
		}
		if _, ok := s.AcceptedAt[w.postKeyOf(id)]; !ok {
			return false
		}
	}
	return true
}

// relative says d as "X ms after" or "X ms before".
func relative(d time.Duration) string {
	if d < 0 {
		return ms(-d) + " before"
	}
	return ms(d) + " after"
}
