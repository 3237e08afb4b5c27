// Command compare times two commands as whole processes, interleaved run
// by run so both see the same machine, and prints the median and p90 wall
// time of each (and the median CPU time, user + system, which a loaded
// machine disturbs less) and the ratio of the medians. bench/startup.sh
// uses it.
//
// With -touch FILE it rewrites FILE before every run of the candidate,
// untimed: a new file (new inode, size and mtime) renamed over it, its
// text as at the start plus a comment line numbering the rewrite, so a
// program watching the file sees it changed since the last run (issue
// 11's "policy changed since the last event"). FILE is put back as it
// was at the end.
//
// With -gap DUR it pauses that long, untimed, before every run: a
// resident process that works after an invocation exits (the engine
// deciding the event it claimed) is then idle when the next one starts,
// which tells its share of a back-to-back ratio from the invocation's own.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 300, "runs of each command")
	warmup := flag.Int("warmup", 20, "untimed runs of each command first")
	stdin := flag.String("stdin", "", "file fed to both commands' stdin")
	baseline := flag.String("baseline", "", "baseline command (split on spaces)")
	candidate := flag.String("candidate", "", "candidate command (split on spaces)")
	max := flag.Float64("max-ratio", 0, "exit 1 when median(candidate)/median(baseline) exceeds this (0: report only)")
	touch := flag.String("touch", "", "rewrite this file (a comment line added) before every candidate run, untimed")
	gap := flag.Duration("gap", 0, "pause this long before every run, untimed (lets a resident engine finish the last event first)")
	flag.Parse()
	if *baseline == "" || *candidate == "" {
		fmt.Fprintln(os.Stderr, "compare: -baseline and -candidate are required")
		os.Exit(2)
	}
	var input []byte
	if *stdin != "" {
		var err error
		if input, err = os.ReadFile(*stdin); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(2)
		}
	}
	cmds := [2][]string{strings.Fields(*baseline), strings.Fields(*candidate)}
	rewrite, restore := func(int) error { return nil }, func() {}
	if *touch != "" {
		orig, err := os.ReadFile(*touch)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(2)
		}
		restore = func() { replace(*touch, orig) }
		rewrite = func(i int) error {
			return replace(*touch, fmt.Appendf(slices.Clone(orig), "\n# rewritten by bench/compare before run %d\n", i))
		}
	}
	var times, cpus [2][]time.Duration
	for i := 0; i < *warmup+*n; i++ {
		for j, c := range cmds {
			if j == 1 {
				if err := rewrite(i); err != nil {
					restore()
					fmt.Fprintln(os.Stderr, "compare:", err)
					os.Exit(1)
				}
			}
			time.Sleep(*gap)
			d, cpu, err := timeOnce(c, input)
			if err != nil {
				restore()
				fmt.Fprintf(os.Stderr, "compare: %s: %v\n", strings.Join(c, " "), err)
				os.Exit(1)
			}
			if i >= *warmup {
				times[j] = append(times[j], d)
				cpus[j] = append(cpus[j], cpu)
			}
		}
	}
	restore()
	med := [2]time.Duration{}
	for j, name := range []string{"baseline ", "candidate"} {
		slices.Sort(times[j])
		slices.Sort(cpus[j])
		med[j] = times[j][len(times[j])/2]
		fmt.Printf("%s median %8.3f ms  p90 %8.3f ms  CPU median %6.3f ms  (%d runs)  %s\n", name, ms(med[j]), ms(times[j][len(times[j])*9/10]), ms(cpus[j][len(cpus[j])/2]), len(times[j]), strings.Join(cmds[j], " "))
	}
	ratio := float64(med[1]) / float64(med[0])
	fmt.Printf("ratio of medians: %.2fx  (of CPU medians: %.2fx)\n", ratio, float64(cpus[1][len(cpus[1])/2])/float64(cpus[0][len(cpus[0])/2]))
	if *max > 0 && ratio > *max {
		fmt.Printf("FAIL: above %.2fx\n", *max)
		os.Exit(1)
	}
}

// timeOnce runs argv once and returns its wall time and the CPU time
// (user and system) the process used.
func timeOnce(argv []string, input []byte) (time.Duration, time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// replace writes data to a new file beside path and renames it over
// path, as an editor or a configuration manager does.
func replace(path string, data []byte) error {
	tmp := path + ".compare-tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
