// Command hello is the start-up baseline for bench/startup.sh: the least
// a Go program run once per event can do — read stdin to EOF and exit.
package main

import (
	"io"
	"os"
)

func main() {
	n, _ := io.Copy(io.Discard, os.Stdin)
	if n < 0 {
		os.Exit(1)
	}
}
