// Command testreport runs `go test -json ...` and prints what go test
// prints without -json, then every skipped test with its reason and a
// closing "skipped: N tests (why)" line: a test that skipped (no
// redis-server here, running as root) is otherwise invisible in `make test`.
//
//	testreport go test -json -race -count=1 ./...
//
// Its exit status is the command's.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs args, reports its output to stdout and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testreport go test -json [flags] [packages]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "testreport: %v\n", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "testreport: %v\n", err)
		return 2
	}
	skips, rerr := report(out, stdout)
	if rerr != nil {
		io.Copy(io.Discard, out) // let the command finish
	}
	werr := cmd.Wait()
	if werr != nil {
		// go test ends a failed run with a bare FAIL line, outside the JSON.
		fmt.Fprintln(stdout, "FAIL")
	}
	summary(stdout, skips)
	if rerr != nil {
		fmt.Fprintf(stderr, "testreport: reading %s's output: %v\n", args[0], rerr)
		return 2
	}
	var exit *exec.ExitError
	switch {
	case errors.As(werr, &exit):
		return max(exit.ExitCode(), 1)
	case werr != nil:
		fmt.Fprintf(stderr, "testreport: %v\n", werr)
		return 2
	}
	return 0
}
