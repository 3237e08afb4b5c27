// Command inittrace runs a command N times with GODEBUG=inittrace=1 and
// aggregates what the runtime prints per package init: wall-clock ms,
// bytes and allocations, as medians over the runs, sorted by time. It
// also runs the command N times without the trace, first, and reports
// its peak RSS (getrusage's ru_maxrss of the child). bench/inittrace.sh uses
// it. Usage:
//
//	inittrace [-n 50] [-stdin FILE] [-top 25] [-own notifier/] -- CMD [ARG...]
package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
)

// initCost is one package's init as one run reported it.
type initCost struct {
	at, ms        float64
	bytes, allocs float64
}

func main() {
	n := flag.Int("n", 50, "runs, traced and then untraced")
	stdin := flag.String("stdin", "", "file fed to the command's stdin")
	top := flag.Int("top", 25, "packages listed (the slowest by median)")
	own := flag.String("own", "notifier/", "import-path prefix whose packages are all listed, slow or not")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: inittrace [-n N] [-stdin FILE] [-top K] [-own PREFIX] -- CMD [ARG...]")
		os.Exit(2)
	}
	var input []byte
	if *stdin != "" {
		var err error
		if input, err = os.ReadFile(*stdin); err != nil {
			fmt.Fprintln(os.Stderr, "inittrace:", err)
			os.Exit(2)
		}
	}
	// Untraced runs first, while this process is small: see below.
	var rss []float64
	for i := 0; i < *n; i++ {
		_, kib, err := runOnce(argv, input, false)
		if err != nil {
			fmt.Fprintf(os.Stderr, "inittrace: %s: %v\n", strings.Join(argv, " "), err)
			os.Exit(1)
		}
		rss = append(rss, kib)
	}
	var self syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	per := map[string][]initCost{}
	var mainAt, sumMS, sumBytes, sumAllocs []float64
	for i := 0; i < *n; i++ {
		stderr, _, err := runOnce(argv, input, true)
		if err != nil {
			fmt.Fprintf(os.Stderr, "inittrace: %s: %v\n", strings.Join(argv, " "), err)
			os.Exit(1)
		}
		var end, ms, b, a float64
		for _, line := range strings.Split(stderr, "\n") {
			var pkg string
			var c initCost
			if _, err := fmt.Sscanf(line, "init %s @%f ms, %f ms clock, %f bytes, %f allocs", &pkg, &c.at, &c.ms, &c.bytes, &c.allocs); err != nil {
				continue
			}
			per[pkg] = append(per[pkg], c)
			end = max(end, c.at+c.ms)
			ms, b, a = ms+c.ms, b+c.bytes, a+c.allocs
		}
		mainAt, sumMS, sumBytes, sumAllocs = append(mainAt, end), append(sumMS, ms), append(sumBytes, b), append(sumAllocs, a)
	}

	type row struct {
		pkg               string
		ms, bytes, allocs float64
	}
	rows := make([]row, 0, len(per))
	for pkg, cs := range per {
		rows = append(rows, row{pkg,
			median(cs, func(c initCost) float64 { return c.ms }),
			median(cs, func(c initCost) float64 { return c.bytes }),
			median(cs, func(c initCost) float64 { return c.allocs })})
	}
	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(cmp.Compare(y.ms, x.ms), cmp.Compare(x.pkg, y.pkg))
	})
	id := func(f float64) float64 { return f }
	fmt.Printf("%s\n", strings.Join(argv, " "))
	fmt.Printf("  %d runs: %d packages with init; all inits end at %.3f ms (median; main starts then)\n", *n, len(rows), median(mainAt, id))
	fmt.Printf("  sum of init clock %.3f ms, %.0f bytes, %.0f allocs (medians of per-run sums)\n", median(sumMS, id), median(sumBytes, id), median(sumAllocs, id))
	// Go starts children with vfork: until exec the child runs in this
	// process's memory, and the kernel keeps that high-water mark.
	fmt.Printf("  peak RSS %.0f KiB median, %.0f KiB max (untraced runs, ru_maxrss; never below this wrapper's own %d KiB)\n", median(rss, id), slices.Max(rss), self.Maxrss)
	fmt.Printf("  %-52s %9s %10s %8s\n", "package (median per run)", "ms", "bytes", "allocs")
	var restMS, restAllocs float64
	rest := 0
	for i, r := range rows {
		if i < *top || (*own != "" && strings.HasPrefix(r.pkg, *own)) {
			fmt.Printf("  %-52s %9.3f %10.0f %8.0f\n", r.pkg, r.ms, r.bytes, r.allocs)
			continue
		}
		restMS, restAllocs, rest = restMS+r.ms, restAllocs+r.allocs, rest+1
	}
	if rest > 0 {
		fmt.Printf("  %-52s %9.3f %10s %8.0f\n", fmt.Sprintf("(%d others)", rest), restMS, "", restAllocs)
	}
}

// runOnce runs argv with input on stdin and returns its stderr and its
// peak RSS in KiB (Linux reports ru_maxrss in KiB).
func runOnce(argv []string, input []byte, trace bool) (string, float64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	if trace {
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", 0, fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 5))
	}
	var kib float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kib = float64(ru.Maxrss)
	}
	return stderr.String(), kib, nil
}

func lastLines(s string, k int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-k):], "\n")
}

func median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}
