package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"notifier/internal/harness"
)

// engineUpWait bounds how long the engine may take to listen after it
// was started.
const engineUpWait = 30 * time.Second

// engine is a running `notifier serve` (issue 11's resident engine), its
// stderr kept in a file.
type engine struct {
	cmd   *exec.Cmd
	spool string
	log   string
	done  chan error
}

// startEngine starts `notifier serve --config policy --spool spool
// [args...]` with env and waits until its wake socket answers.
func startEngine(bin, policy, spool string, env []string, logPath string, args ...string) (*engine, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--config", policy, "--spool", spool}, args...)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &engine{cmd: cmd, spool: spool, log: logPath, done: make(chan error, 1)}
	go func() { e.done <- cmd.Wait() }()
	alive := func() bool {
		select {
		case err := <-e.done:
			e.done <- err // for stop
			return false
		default:
			return true
		}
	}
	if _, err := harness.WaitStatus(spool, engineUpWait, alive); err != nil {
		if alive() {
			e.stop()
		}
		return nil, fmt.Errorf("notifier serve: %w: %s", err, e.tail(5))
	}
	return e, nil
}

// stop sends SIGTERM and waits (bounded) for the engine to exit; its
// exit status is the error.
func (e *engine) stop() error {
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		return err
	case <-time.After(30 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
		return fmt.Errorf("notifier serve did not exit within 30 s of SIGTERM (killed)")
	}
}

// memory reads the engine's resident set now and its peak, in KiB, from
// /proc/PID/status (VmRSS, VmHWM).
func (e *engine) memory() (rss, hwm int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm, nil
}

// printMemory prints the engine's memory as one line, saying when.
func (e *engine) printMemory(when string) {
	rss, hwm, err := e.memory()
	if err != nil {
		fmt.Printf("engine memory %s: %v\n", when, err)
		return
	}
	fmt.Printf("engine memory %s: VmRSS %.1f MB, VmHWM (peak) %.1f MB\n", when, float64(rss)/1024, float64(hwm)/1024)
}

// cpu is the engine's user + system CPU time so far, from
// /proc/PID/stat (clock ticks, 100 a second on Linux).
func (e *engine) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	rest := string(data[bytes.LastIndexByte(data, ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// tail is the last k lines of the engine's log, for messages.
func (e *engine) tail(k int) string {
	data, _ := os.ReadFile(e.log)
	return lastLines(string(data), k)
}

func lastLines(s string, k int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-k):], "\n")
}
