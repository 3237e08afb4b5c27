// Command compare times two commands as whole processes, interleaved run
// by run so both see the same machine, and prints the median and p90 wall
// time of each and the ratio of the medians. bench/startup.sh uses it.
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
	var times [2][]time.Duration
	for i := 0; i < *warmup+*n; i++ {
		for j, c := range cmds {
			d, err := timeOnce(c, input)
			if err != nil {
				fmt.Fprintf(os.Stderr, "compare: %s: %v\n", strings.Join(c, " "), err)
				os.Exit(1)
			}
			if i >= *warmup {
				times[j] = append(times[j], d)
			}
		}
	}
	med := [2]time.Duration{}
	for j, name := range []string{"baseline ", "candidate"} {
		slices.Sort(times[j])
		med[j] = times[j][len(times[j])/2]
		fmt.Printf("%s median %8.3f ms  p90 %8.3f ms  (%d runs)  %s\n", name, ms(med[j]), ms(times[j][len(times[j])*9/10]), len(times[j]), strings.Join(cmds[j], " "))
	}
	ratio := float64(med[1]) / float64(med[0])
	fmt.Printf("ratio of medians: %.2fx\n", ratio)
	if *max > 0 && ratio > *max {
		fmt.Printf("FAIL: above %.2fx\n", *max)
		os.Exit(1)
	}
}

func timeOnce(argv []string, input []byte) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return d, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
