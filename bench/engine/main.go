// Command engine is the shell scripts' handle on a running `notifier
// serve` (issue 11):
//
//	engine -spool DIR wait [-bound 30s]   until it answers on its wake socket
//	engine -spool DIR status              print its one-line status (JSON)
//	engine -pid PID mem                   print VmRSS and VmHWM (KiB) from /proc
//	engine -spool DIR depth               print the entries in new/ and claimed/
//	engine -spool DIR fake                answer "claimed" to every wake-up at once and, once
//	                                      the drop has hung up, delete its entry from new/ (until
//	                                      killed): what a drop costs without the real engine's
//	                                      claim and decision, its directory kept as small as theirs
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	spoolpkg "notifier/engine/spool"
	"notifier/internal/harness"
)

func main() {
	spool := flag.String("spool", "", "the engine's spool directory")
	pid := flag.Int("pid", 0, "the engine's process id (mem)")
	bound := flag.Duration("bound", 30*time.Second, "wait: how long to wait")
	flag.Parse()
	var err error
	switch flag.Arg(0) {
	case "wait":
		_, err = harness.WaitStatus(*spool, *bound, nil)
	case "status":
		var st *spoolpkg.EngineStatus
		if st, err = spoolpkg.AskStatus(*spool, time.Second); err == nil {
			data, _ := json.Marshal(st)
			fmt.Println(string(data))
		}
	case "mem":
		var data []byte
		if data, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid)); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
					fmt.Println(strings.Join(strings.Fields(l), " "))
				}
			}
		}
	case "depth":
		var queued, claimed int
		if queued, claimed, _, err = harness.SpoolDepth(*spool); err == nil {
			fmt.Println(queued + claimed)
		}
	case "fake":
		err = fake(*spool)
	default:
		err = fmt.Errorf("usage: engine -spool DIR wait|status|depth|fake, engine -pid PID mem")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

// fake listens on the spool's wake socket and answers every line with
// "claimed" at once (a status request too: its answer is one line).
func fake(spool string) error {
	path := filepath.Join(spool, spoolpkg.WakeSocket)
	status, _ := json.Marshal(spoolpkg.EngineStatus{PID: os.Getpid(), Owner: "fake", Started: time.Now(), Version: "fake", Spool: spool})
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			switch {
			case err != nil:
			case line == "status\n": // as the engine answers it (spool.AskStatus)
				c.Write(append(status, '\n'))
			default:
				c.Write([]byte("claimed\n"))
				// As the engine: nothing until the drop hangs up, then
				// the entry leaves new/ (a rename and, once decided, a
				// delete there; here only the delete).
				io.Copy(io.Discard, c)
				if id, _, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " "); spoolpkg.ValidID(id) {
					os.Remove(filepath.Join(spool, spoolpkg.NewDir, id))
				}
			}
		}()
	}
}
