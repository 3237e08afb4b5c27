package harness

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"syscall"
)

// Invocation says how to start one run beyond what the harness fixes
// (the caller's way of running it, the policy through NOTIFIER_CONFIG).
type Invocation struct {
	// Bin is the binary to run instead of h.Bin (notifier-drop).
	Bin string
	// Env is added to the harness's environment (Env): a variable set
	// here wins (NOTIFIER_SPOOL, NOTIFIER_CLAIM_WAIT, ...).
	Env []string
	// Cred, when set, runs the process as another user (the test must be
	// root).
	Cred *syscall.Credential
	// Gate, when set, holds the process at its read of stdin until it is
	// closed (see StartCMON).
	Gate <-chan struct{}
}

// StartCMONWith starts a run as CMON does (see RunCMON) with data on its
// stdin, as inv says.
func (h *Harness) StartCMONWith(ctx context.Context, data []byte, inv Invocation) (*Proc, error) {
	bin := h.Bin
	if inv.Bin != "" {
		bin = inv.Bin
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(h.Env(), inv.Env...)
	var in io.Reader = bytes.NewReader(data)
	if inv.Gate != nil {
		in = &gatedReader{ctx: ctx, gate: inv.Gate, r: in}
	}
	cmd.Stdin = in
	if inv.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: inv.Cred}
	}
	return start(cmd)
}

// CommandEnv is Command with env added to the environment (a variable
// set there wins).
func (h *Harness) CommandEnv(ctx context.Context, env []string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, h.Bin, args...)
	cmd.Env = append(h.Env(), env...)
	return run(cmd)
}
