// Command dropfloor is the floor for the drop (issue 11): a hello-sized
// program doing exactly the drop's I/O and nothing else — read the CMON
// message on stdin, write it to a temp file under the spool's tmp/, fsync
// it, rename it into new/, fsync new/, exit (bench/internal/spool). No
// decoding, no socket. bench/drop.sh times it against bench/hello: what a
// drop costs above that ratio is start-up (package init) and decoding,
// not I/O.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"notifier/bench/internal/spool"
)

func main() {
	dir := flag.String("spool", "", "spool directory (tmp/ and new/ are made under it when missing)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "dropfloor: -spool is required")
		os.Exit(2)
	}
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		_, err = spool.Write(*dir, data)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dropfloor:", err)
		os.Exit(1)
	}
}
