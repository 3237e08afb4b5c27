// Command par runs a command N times, P at a time, each with the same
// stdin, as bench/state runs the alarms' processes (exec'd directly, no
// shell), and prints the wall time of the whole and the median CPU time
// (user + system) of one process: for timing programs that bench/state
// cannot run in notifier's place (bench/floor1000.sh). Any failure of a
// process is an error: a floor that did not do its work measures nothing.
//
// Usage: par -n 1000 -p 16 [-stdin FILE] -- COMMAND [ARG...]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "processes in all")
	p := flag.Int("p", 16, "processes at a time")
	stdin := flag.String("stdin", "", "file given to every process on stdin (default: none)")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || *p < 1 {
		fmt.Fprintln(os.Stderr, "usage: par -n N -p P [-stdin FILE] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	var in []byte
	if *stdin != "" {
		var err error
		if in, err = os.ReadFile(*stdin); err != nil {
			fmt.Fprintln(os.Stderr, "par:", err)
			os.Exit(1)
		}
	}
	argv := flag.Args()
	jobs := make(chan int)
	var mu sync.Mutex
	var cpus []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range *p {
		wg.Go(func() {
			for range jobs {
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Stdin = bytes.NewReader(in)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %v: %s", argv[0], err, stderr.String())
				}
				if cmd.ProcessState != nil {
					cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
				mu.Unlock()
			}
		})
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "par:", firstErr)
		os.Exit(1)
	}
	slices.Sort(cpus)
	fmt.Printf("%.3f s wall, CPU median %.3f ms per process, %d processes, %d at a time: %s\n",
		wall.Seconds(), float64(cpus[len(cpus)/2].Microseconds())/1000, *n, *p, argv[0])
}
