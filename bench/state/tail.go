package main

import (
	"fmt"
	"time"
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
	for _, p := range []struct {
		name  string
		keyOf func(string) string
		exits []time.Time
	}{{"notifier", w.keyOf, r.exitN}, {"post", w.postKeyOf, r.exitPost}} {
		var last time.Time
		worst, missing := time.Duration(-1<<63), 0
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
		fmt.Println()
	}
	fmt.Printf("endpoint: %d connections so far (with -tls each is a full handshake; warm-up included), enqueue requests by HTTP version %v\n", s.Conns, s.Protos)
	return nil
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
