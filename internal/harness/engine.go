package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"notifier/engine/spool"
)

// EngineOptions say how to start `notifier serve`.
type EngineOptions struct {
	Configs []string // --config, each
	Spool   string   // --spool
	Workers int      // --workers, when not 0
	Env     []string // the whole environment
	// Cred, when set, runs the engine as another user (the test must be
	// root).
	Cred *syscall.Credential
}

// Engine is a `notifier serve` a test starts and supervises: start it,
// wait until its wake-up socket answers a status request, signal it,
// kill it and start it again, stop it with SIGTERM and read its exit
// status. Its stderr is kept across restarts.
type Engine struct {
	Bin     string
	Options EngineOptions

	stderr lockedBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait's
}

// NewEngine prepares an engine; Start starts it.
func NewEngine(bin string, o EngineOptions) *Engine {
	return &Engine{Bin: bin, Options: o}
}

// Start starts a new engine process; the previous one must have ended.
func (e *Engine) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		select {
		case <-e.done:
		default:
			return fmt.Errorf("engine pid %d is still running", e.cmd.Process.Pid)
		}
	}
	args := []string{"serve", "--spool", e.Options.Spool}
	for _, c := range e.Options.Configs {
		args = append(args, "--config", c)
	}
	if e.Options.Workers > 0 {
		args = append(args, "--workers", strconv.Itoa(e.Options.Workers))
	}
	cmd := exec.Command(e.Bin, args...)
	cmd.Env = e.Options.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdout = &e.stderr
	cmd.Stderr = &e.stderr
	cmd.WaitDelay = waitDelay
	if e.Options.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.Options.Cred}
	}
	fmt.Fprintf(&e.stderr, "[harness: starting %s %s]\n", e.Bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the engine: %w", err)
	}
	done := make(chan struct{})
	e.cmd, e.done, e.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
		fmt.Fprintf(&e.stderr, "[harness: engine pid %d ended: %v]\n", cmd.Process.Pid, cmd.ProcessState)
		close(done)
	}()
	return nil
}

// Pid is the running (or last) engine process's id.
func (e *Engine) Pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

func (e *Engine) current() (*exec.Cmd, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cmd, e.done
}

// Ready polls the wake-up socket until the engine started last answers a
// status request with its own pid, and returns that status. It fails at
// once when the process exits, and when ctx ends.
func (e *Engine) Ready(ctx context.Context) (*spool.EngineStatus, error) {
	cmd, done := e.current()
	if cmd == nil {
		return nil, errors.New("the engine was not started")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		st, err := spool.AskStatus(e.Options.Spool, time.Second)
		if err == nil && st.PID == cmd.Process.Pid {
			return st, nil
		}
		if err == nil {
			err = fmt.Errorf("answered by pid %d, not %d", st.PID, cmd.Process.Pid)
		}
		last = err
		select {
		case <-done:
			return nil, fmt.Errorf("the engine exited (%v) before answering a status request; stderr:\n%s", cmd.ProcessState, e.Stderr())
		case <-ctx.Done():
			return nil, fmt.Errorf("the engine did not answer a status request: %v (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Status asks the running engine for its status.
func (e *Engine) Status() (*spool.EngineStatus, error) {
	return spool.AskStatus(e.Options.Spool, 2*time.Second)
}

// Signal sends sig to the running engine.
func (e *Engine) Signal(sig os.Signal) error {
	cmd, _ := e.current()
	if cmd == nil {
		return errors.New("the engine was not started")
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to be gone (its locks
// released by the kernel).
func (e *Engine) Kill() error {
	cmd, done := e.current()
	if cmd == nil {
		return nil
	}
	cmd.Process.Kill()
	<-done
	return nil
}

// Stop sends SIGTERM and waits at most d for the engine to exit; it
// returns the exit status (-1: ended by a signal). An engine still
// running after d is killed and Stop says so.
func (e *Engine) Stop(d time.Duration) (int, error) {
	cmd, done := e.current()
	if cmd == nil {
		return 0, errors.New("the engine was not started")
	}
	select {
	case <-done:
		return 0, fmt.Errorf("the engine had already exited (%v)", cmd.ProcessState)
	default:
	}
	cmd.Process.Signal(syscall.SIGCONT) // a stopped engine cannot act on SIGTERM
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return -1, fmt.Errorf("the engine did not exit within %s of SIGTERM; killed", d)
	}
	return cmd.ProcessState.ExitCode(), nil
}

// Close kills the engine if it still runs (for t.Cleanup).
func (e *Engine) Close() {
	cmd, done := e.current()
	if cmd == nil {
		return
	}
	select {
	case <-done:
	default:
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		<-done
	}
}

// Stderr is everything every engine process started so far wrote on
// stdout and stderr, with the harness's own lines about starts and exits.
func (e *Engine) Stderr() string { return e.stderr.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SpoolDepth counts the entries in the spool at dir: queued (new/),
// claimed (claimed/) and bad (bad/, entries only, not their reasons),
// reading the directories themselves. A directory not made yet counts 0.
func SpoolDepth(dir string) (queued, claimed, bad int, err error) {
	count := func(sub string, skip func(string) bool) (int, error) {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		n := 0
		for _, e := range ents {
			if !skip(e.Name()) {
				n++
			}
		}
		return n, err
	}
	none := func(string) bool { return false }
	if queued, err = count("new", none); err != nil {
		return
	}
	if claimed, err = count("claimed", none); err != nil {
		return
	}
	bad, err = count("bad", func(name string) bool { return strings.HasSuffix(name, ".reason") })
	return
}

// SpoolList names the entries in new/, claimed/ and bad/ of the spool at
// dir, for test failures.
func SpoolList(dir string) string {
	var b strings.Builder
	for _, sub := range []string{"new", "claimed", "bad"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			fmt.Fprintf(&b, "\n  %s/%s", sub, e.Name())
		}
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

// WaitStatus polls the engine listening in the spool at dir until it
// answers a status request, and returns that status; an error after
// bound, or at once when alive (if set) reports the engine gone. For
// programs that start an engine by other means than Engine (the
// benchmarks).
func WaitStatus(dir string, bound time.Duration, alive func() bool) (*spool.EngineStatus, error) {
	deadline := time.Now().Add(bound)
	for {
		st, err := spool.AskStatus(dir, time.Second)
		if err == nil {
			return st, nil
		}
		if alive != nil && !alive() {
			return nil, fmt.Errorf("the engine exited before it answered on %s", filepath.Join(dir, spool.WakeSocket))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no engine answered on %s within %s: %w", filepath.Join(dir, spool.WakeSocket), bound, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
