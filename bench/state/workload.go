package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"notifier/internal/harness"
)

// job is how to run one program for one alarm.
type job struct {
	argv  []string
	env   []string
	quiet bool // anything on stderr is a failure
}

func (j job) command(stdin []byte) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(j.argv[0], j.argv[1:]...)
	cmd.Env = j.env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

func (j job) check(err error, stderr *bytes.Buffer) error {
	if err == nil && j.quiet && stderr.Len() > 0 {
		err = fmt.Errorf("exit 0 but stderr")
	}
	if err != nil {
		return fmt.Errorf("%s: %v: %s", j.argv[0], err, stderr.String())
	}
	return nil
}

// workload makes the alarms and runs both programs on them.
type workload struct {
	template       []byte
	notifier, post job
	keyOf          func(id string) string // the notifier's event key for an alarm id
	postKeyOf      func(id string) string // post's event key for an alarm id
	// settle, when set (an engine delivers after the invocations exit),
	// is called untimed after each batch of notifier with its alarm ids
	// and returns once the endpoint has accepted them all.
	settle func(ids []string) error
	// drain, when set, is called untimed after each storm of notifier
	// and returns once the engine has taken every entry out of the
	// spool (all decided), and when it saw that.
	drain func() (time.Time, error)
}

func (w *workload) inputs(base, n int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		var err error
		if out[i], err = harness.WithAlarmID(w.template, fmt.Sprint(base+i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pool runs j once per input, parallel at a time, and returns the wall
// time of the whole batch and the CPU time (user and system) its
// processes used.
func pool(j job, inputs [][]byte, parallel int) (wall, cpu time.Duration, err error) {
	next := make(chan []byte)
	errs := make(chan error, parallel)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for in := range next {
				cmd, stderr := j.command(in)
				if err := j.check(cmd.Run(), stderr); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				if ps := cmd.ProcessState; ps != nil {
					mu.Lock()
					cpu += ps.UserTime() + ps.SystemTime()
					mu.Unlock()
				}
			}
		})
	}
	for _, in := range inputs {
		next <- in
	}
	close(next)
	wg.Wait()
	wall = time.Since(start)
	select {
	case err = <-errs:
	default:
	}
	return wall, cpu, err
}

// alarmsResult is the total wall time of each program over all batches.
type alarmsResult struct {
	n, batch          int
	notifier, post    time.Duration
	cpuN, cpuPost     time.Duration // CPU time of the processes
	batchRatios       []float64
	batchN, batchPost []time.Duration
	// When each batch of each program started, and when its last
	// process exited.
	startN, startPost []time.Time
	exitN, exitPost   []time.Time
}

// alarms runs n distinct alarms (ids from base) through both programs,
// in batches that alternate which program goes first, so both see the
// same machine.
func (w *workload) alarms(parallel, n, batch, base int) (*alarmsResult, error) {
	ins, err := w.inputs(base, n)
	if err != nil {
		return nil, err
	}
	r := &alarmsResult{n: n, batch: batch}
	for b := 0; b*batch < n; b++ {
		part := ins[b*batch : min(n, (b+1)*batch)]
		var dn, dp time.Duration
		order := []job{w.notifier, w.post}
		if b%2 == 1 {
			order = []job{w.post, w.notifier}
		}
		for _, j := range order {
			start := time.Now()
			d, cpu, err := pool(j, part, parallel)
			if err != nil {
				return nil, err
			}
			if j.argv[0] == w.notifier.argv[0] {
				dn, r.cpuN, r.startN, r.exitN = d, r.cpuN+cpu, append(r.startN, start), append(r.exitN, time.Now())
				if w.settle != nil {
					ids := make([]string, len(part))
					for i := range ids {
						ids[i] = fmt.Sprint(base + b*batch + i)
					}
					if err := w.settle(ids); err != nil {
						return nil, err
					}
				}
			} else {
				dp, r.cpuPost, r.startPost, r.exitPost = d, r.cpuPost+cpu, append(r.startPost, start), append(r.exitPost, time.Now())
			}
		}
		r.notifier += dn
		r.post += dp
		r.batchN, r.batchPost = append(r.batchN, dn), append(r.batchPost, dp)
		r.batchRatios = append(r.batchRatios, float64(dn)/float64(dp))
	}
	return r, nil
}

func (r *alarmsResult) print() {
	fmt.Printf("notifier: %8.3f s total  %6.2f ms per alarm  (median batch %s)  CPU %6.2f ms per process\n", r.notifier.Seconds(), ms1(r.notifier, r.n), ms(median(r.batchN)), ms1(r.cpuN, r.n))
	fmt.Printf("post:     %8.3f s total  %6.2f ms per alarm  (median batch %s)  CPU %6.2f ms per process\n", r.post.Seconds(), ms1(r.post, r.n), ms(median(r.batchPost)), ms1(r.cpuPost, r.n))
	lo, hi := r.batchRatios[0], r.batchRatios[0]
	for _, x := range r.batchRatios {
		lo, hi = min(lo, x), max(hi, x)
	}
	fmt.Printf("ratio notifier/post: %.2fx (batches %.2fx to %.2fx)\n", float64(r.notifier)/float64(r.post), lo, hi)
}

func ms1(total time.Duration, n int) float64 {
	return float64(total.Microseconds()) / 1000 / float64(n)
}

// stormResult holds each storm's wall time, first fork to last exit, and
// how long starting the processes alone took.
type stormResult struct {
	n                    int
	notifier, post       []time.Duration
	notifierSpawn, pSpwn []time.Duration
	// decided: with an engine, first fork to the spool found empty.
	decided []time.Duration
}

// storms starts n processes of one alarm at once, runs times (a new
// alarm each, ids from base), alternating with n posts.
func (w *workload) storms(n, runs, base int) (*stormResult, error) {
	r := &stormResult{n: n}
	for i := range runs {
		in, err := harness.WithAlarmID(w.template, fmt.Sprint(base+i))
		if err != nil {
			return nil, err
		}
		order := []job{w.notifier, w.post}
		if i%2 == 1 {
			order = []job{w.post, w.notifier}
		}
		for _, j := range order {
			start := time.Now()
			wall, spawn, err := storm(j, in, n)
			if err != nil {
				return nil, err
			}
			if j.argv[0] == w.notifier.argv[0] {
				r.notifier, r.notifierSpawn = append(r.notifier, wall), append(r.notifierSpawn, spawn)
				if w.drain != nil {
					at, err := w.drain()
					if err != nil {
						return nil, err
					}
					r.decided = append(r.decided, at.Sub(start))
				}
			} else {
				r.post, r.pSpwn = append(r.post, wall), append(r.pSpwn, spawn)
			}
		}
	}
	return r, nil
}

func storm(j job, in []byte, n int) (wall, spawn time.Duration, err error) {
	cmds := make([]*exec.Cmd, n)
	stderrs := make([]*bytes.Buffer, n)
	start := time.Now()
	for i := range cmds {
		cmds[i], stderrs[i] = j.command(in)
		if err := cmds[i].Start(); err != nil {
			for _, c := range cmds[:i] {
				c.Wait()
			}
			return 0, 0, err
		}
	}
	spawn = time.Since(start)
	var first error
	for i, c := range cmds {
		if err := j.check(c.Wait(), stderrs[i]); err != nil && first == nil {
			first = err
		}
	}
	return time.Since(start), spawn, first
}

func (r *stormResult) print() {
	for _, s := range []struct {
		name        string
		wall, spawn []time.Duration
	}{{"notifier", r.notifier, r.notifierSpawn}, {"post", r.post, r.pSpwn}} {
		fmt.Printf("%-8s %d processes: median %s  min %s  max %s  (starting them: median %s)\n",
			s.name, r.n, ms(median(s.wall)), ms(pct(s.wall, 0)), ms(pct(s.wall, 100)), ms(median(s.spawn)))
	}
	if len(r.decided) > 0 {
		fmt.Printf("engine   all %d decided (spool empty, polled every 5 ms) after the first fork: median %s  min %s  max %s\n",
			r.n, ms(median(r.decided)), ms(pct(r.decided, 0)), ms(pct(r.decided, 100)))
	}
}
