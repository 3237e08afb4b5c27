package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"notifier/engine/pacemaker"
)

// waitDelay bounds how long Wait waits for a process's pipes after it
// exited (a grandchild holding them, a gate never opened).
const waitDelay = 10 * time.Second

// Result is one finished invocation. Exit is -1 when a signal ended the
// process.
type Result struct {
	Exit           int
	Stdout, Stderr string
}

// IsPacemakerEvent tells the example events apart by file name.
func IsPacemakerEvent(file string) bool { return filepath.Ext(file) == ".env" }

// Run invokes the binary for one example event as its real caller would.
func (h *Harness) Run(ctx context.Context, eventFile string) (Result, error) {
	if IsPacemakerEvent(eventFile) {
		return h.RunPacemaker(ctx, eventFile)
	}
	return h.RunCMON(ctx, eventFile)
}

// RunCMON runs the binary as CMON does: JSON on stdin, no arguments, an
// environment holding nothing but NOTIFIER_CONFIG.
func (h *Harness) RunCMON(ctx context.Context, eventFile string) (Result, error) {
	data, err := os.ReadFile(eventFile)
	if err != nil {
		return Result{}, err
	}
	p, err := h.StartCMON(ctx, data, nil)
	if err != nil {
		return Result{}, err
	}
	return p.Wait()
}

// RunPacemaker runs the binary as Pacemaker does: the alert in the
// environment (as captured, plus NOTIFIER_CONFIG as an instance
// attribute), no arguments, stdin on /dev/null.
func (h *Harness) RunPacemaker(ctx context.Context, eventFile string, extraEnv ...string) (Result, error) {
	p, err := h.StartPacemaker(ctx, eventFile, extraEnv...)
	if err != nil {
		return Result{}, err
	}
	return p.Wait()
}

// Command runs the binary with args (a command and its flags, such as
// "history", "--format", "json") against the harness's policy, which it
// finds through NOTIFIER_CONFIG as CMON's and Pacemaker's runs do.
func (h *Harness) Command(ctx context.Context, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, h.Bin, args...)
	cmd.Env = h.Env()
	return run(cmd)
}

// Env is the environment every invocation gets: NOTIFIER_CONFIG (as
// CMON's and Pacemaker's runs find the policy) and NOTIFIER_SPOOL (the
// harness's own spool, never the system's).
func (h *Harness) Env() []string {
	return []string{"NOTIFIER_CONFIG=" + h.Config, "NOTIFIER_SPOOL=" + h.Spool}
}

// Proc is an invocation that has started; Wait collects it. Starting
// many before waiting for any is how CMON's update storms and
// Pacemaker's one-process-per-recipient alerts arrive.
type Proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// StartCMON starts the binary as CMON does (see RunCMON) with data on
// its stdin. With a gate, the process starts, loads its policy and
// waits for stdin until gate is closed: closing one gate releases many
// processes at the same moment.
func (h *Harness) StartCMON(ctx context.Context, data []byte, gate <-chan struct{}) (*Proc, error) {
	cmd := exec.CommandContext(ctx, h.Bin)
	cmd.Env = h.Env()
	var in io.Reader = bytes.NewReader(data)
	if gate != nil {
		in = &gatedReader{ctx: ctx, gate: gate, r: in}
	}
	cmd.Stdin = in
	return start(cmd)
}

// StartCMONOpen starts the binary as CMON does (see RunCMON) with data
// written to a stdin pipe that stays open: the returned end is the
// writer's, and the caller closes it when it likes (after Wait, to show
// the process did not wait for it).
func (h *Harness) StartCMONOpen(ctx context.Context, data []byte) (*Proc, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close() // the child holds its own copy
	cmd := exec.CommandContext(ctx, h.Bin)
	cmd.Env = h.Env()
	cmd.Stdin = r // an *os.File: the child gets the pipe itself, no copier
	p, err := start(cmd)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		p.Kill()
		p.Wait()
		return nil, nil, err
	}
	return p, w, nil
}

// StartPacemaker starts the binary as Pacemaker does (see RunPacemaker).
func (h *Harness) StartPacemaker(ctx context.Context, eventFile string, extraEnv ...string) (*Proc, error) {
	data, err := os.ReadFile(eventFile)
	if err != nil {
		return nil, err
	}
	env, err := pacemaker.ParseEnvFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", eventFile, err)
	}
	cmd := exec.CommandContext(ctx, h.Bin)
	cmd.Env = append(envList(env), h.Env()...)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdin = nil // /dev/null
	return start(cmd)
}

func start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{cmd: cmd}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL, as Pacemaker does to an agent past its timeout;
// Wait must still be called.
func (p *Proc) Kill() error { return p.cmd.Process.Kill() }

// Wait waits for the process to end and returns how it ended. A non-zero
// exit is a Result, not an error; the error is for a process that could
// not be waited for.
func (p *Proc) Wait() (Result, error) {
	err := p.cmd.Wait()
	res := Result{Stdout: p.stdout.String(), Stderr: p.stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Exit = ee.ExitCode()
		return res, nil
	}
	return res, err
}

func run(cmd *exec.Cmd) (Result, error) {
	p, err := start(cmd)
	if err != nil {
		return Result{}, err
	}
	return p.Wait()
}

// gatedReader reads nothing until gate is closed (or ctx ends).
type gatedReader struct {
	ctx  context.Context
	gate <-chan struct{}
	r    io.Reader
}

func (g *gatedReader) Read(b []byte) (int, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
			g.gate = nil
		case <-g.ctx.Done():
			return 0, g.ctx.Err()
		}
	}
	return g.r.Read(b)
}

// Storm starts one CMON process per input, every one of them before any
// is released: they start, load the policy and block on stdin until all
// have started, so they reach the state at the same moment, as CMON's
// update storms and Pacemaker's one-process-per-recipient alerts do. It
// returns each process's result in input order; the error is for
// processes that could not be started or waited for.
func (h *Harness) Storm(ctx context.Context, inputs [][]byte) ([]Result, error) {
	gate := make(chan struct{})
	procs := make([]*Proc, 0, len(inputs))
	var startErr error
	for _, in := range inputs {
		p, err := h.StartCMON(ctx, in, gate)
		if err != nil {
			startErr = fmt.Errorf("started %d of %d processes: %w", len(procs), len(inputs), err)
			break
		}
		procs = append(procs, p)
	}
	close(gate)
	results := make([]Result, len(procs))
	errs := []error{startErr}
	for i, p := range procs {
		res, err := p.Wait()
		if err != nil {
			errs = append(errs, fmt.Errorf("process %d: %w", i, err))
		}
		results[i] = res
	}
	return results, errors.Join(errs...)
}
