// Command notifier-drop is the drop alone: what CMON's plugin and
// Pacemaker's alert run once per event. It reads and validates the
// event exactly as `notifier run` does, spools it durably and wakes the
// engine (`notifier serve`); when no engine claims it, it becomes the
// full binary (`notifier run --spooled ID`, same process, environment
// and stderr), which decides the entry in-process. It links no policy,
// state or channel code, so that it starts in about the time of a hello
// world (engine/drop).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"notifier/engine/drop"
	"notifier/engine/pacemaker"
	"notifier/engine/spool"
)

// Exit codes, as the full binary's: 0 spooled (or ignored), 1 spooled
// but no one to decide it now, 2 usage or input.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// defaultConfig is the full binary's default policy path.
const defaultConfig = "/etc/notifier/notifier.yaml"

func main() {
	start := time.Now()
	code, argv, env := run(os.Args[1:], os.Stdin, os.Stderr, os.Environ(), start)
	if argv == nil {
		os.Exit(code)
	}
	err := syscall.Exec(argv[0], argv, env)
	// Only reached when the exec failed.
	if len(argv) > 2 && argv[2] == "--spooled" {
		// Back into new/ from this process's claim: a flush (or the
		// engine, once up) takes it; failing that, it is a dead
		// claimer's entry, which they take over.
		unclaim(argv)
		fmt.Fprintf(os.Stderr, "notifier: cannot run %s (%v): the event stays in the spool for notifier flush\n", argv[0], err)
	} else {
		fmt.Fprintf(os.Stderr, "notifier: cannot run %s (%v): the event was not read\n", argv[0], err)
	}
	os.Exit(exitProblem)
}

// unclaim releases the entry of the command line run made
// ("run --spooled ID --owner OWNER --spool DIR ...") into new/.
func unclaim(argv []string) {
	flag := func(name string) string {
		if i := slices.Index(argv, name); i >= 0 && i+1 < len(argv) {
			return argv[i+1]
		}
		return ""
	}
	s, err := spool.Open(flag("--spool"))
	if err != nil {
		return
	}
	defer s.Close()
	if c, err := s.Adopt(flag("--spooled"), flag("--owner")); err == nil {
		s.Release(c)
	}
}

// run is the drop. It returns the exit status, or the command line and
// environment of the full binary to exec in its place.
func run(args []string, stdin io.Reader, stderr io.Writer, environ []string, start time.Time) (int, []string, []string) {
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("notifier-drop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "policy file or directory (default $NOTIFIER_CONFIG, else "+defaultConfig+")")
	source := fs.String("source", drop.SourceAuto, "event source: auto, cmon, pacemaker or json")
	spoolFlag := fs.String("spool", "", "spool directory (default $NOTIFIER_SPOOL, else spool/ beside $NOTIFIER_STATE_PATH, else "+spool.Default+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, nil, nil
		}
		return exitUsage, nil, nil
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "notifier-drop: unexpected argument %q\n", fs.Arg(0))
		return exitUsage, nil, nil
	}
	env := pacemaker.EnvMap(environ)
	path := *configFlag
	if path == "" {
		path = env["NOTIFIER_CONFIG"]
	}
	if path == "" {
		path = defaultConfig
	}
	dir := drop.SpoolDir(*spoolFlag, env)
	fail := func(code int, err error) (int, []string, []string) {
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return code, nil, nil
	}
	wait, err := drop.ClaimWait(env)
	if err != nil {
		return fail(exitUsage, err)
	}
	s, err := spool.Open(dir)
	if err == nil {
		// Every directory the drop may write (new/ or claimed/ for its
		// entry, claimed/ when the engine declines it), checked before
		// the input is read: an unusable spool must still leave it to
		// the full binary to read. bad/ is the engine's and flush's.
		// tmp/ is written only where unnamed files cannot be made or
		// linked, which is known only once the input is read: checked
		// all the same, so that such a spool never costs an event.
		if err = s.Prepare(spool.TmpDir, spool.NewDir, spool.ClaimedDir); err != nil {
			s.Close()
		}
	}
	if err != nil {
		// Nothing read yet: the full binary reads the input itself and
		// decides it in-process, as it did before there was a spool.
		bin, berr := fullBinary(env)
		if berr != nil {
			return fail(exitProblem, berr)
		}
		fmt.Fprintf(stderr, "notifier: %v: running %s\n", err, bin)
		return exitOK, append([]string{bin, "run"}, args...), environ
	}
	defer s.Close()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(drop.ReadBound))
	defer cancel()
	// Claimed, when the engine does not take it, for this process, whose
	// pid the notifier it execs keeps: that one adopts the claim, and
	// nobody else can take the entry from under it meanwhile.
	owner := sync.OnceValue(drop.NewOwner)
	e, c, _, err := drop.Drop(ctx, s, drop.Options{Policy: path, Env: env, Stdin: stdin, Source: *source, Hint: stderr, Received: start, Wait: wait, Owner: owner})
	var ue *drop.UsageError
	var ie *drop.InputError
	switch {
	case errors.Is(err, drop.ErrIgnored):
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return exitOK, nil, nil
	case errors.As(err, &ue):
		return fail(exitUsage, err)
	case errors.As(err, &ie):
		if ie.Input != nil {
			err = drop.Reject(drop.RejectedDir(drop.StatePath(env)), ie.Input, err)
		}
		return fail(exitUsage, err)
	case errors.Is(err, spool.ErrNotDurable):
		// The engine has it (decided once), but exit 0 would claim it
		// was on disk.
		return fail(exitProblem, fmt.Errorf("%w (the engine has the event)", err))
	case err != nil:
		// Not spooled: the input is read and cannot be handed over, so
		// say so loudly (the caller's exit status is how CMON and
		// Pacemaker learn of it).
		return fail(exitProblem, fmt.Errorf("the event could not be spooled: %w", err))
	}
	if c == nil {
		return exitOK, nil, nil // the engine has it (or a flush: either way, decided once)
	}
	// Found only now: with an engine running it is never needed.
	bin, err := fullBinary(env)
	if err != nil {
		// Back into new/ from this process's claim, as when the exec
		// fails (main): a flush, or the engine once up, takes it.
		if rerr := s.Release(c); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return fail(exitProblem, fmt.Errorf("%w: the event stays in the spool for notifier flush", err))
	}
	argv := []string{bin, "run", "--spooled", e.ID, "--owner", owner(), "--spool", dir}
	if *configFlag != "" {
		argv = append(argv, "--config", *configFlag)
	}
	return exitOK, argv, append(environ, "NOTIFIER_SPOOL="+dir)
}

// fullBinary is the notifier to exec: $NOTIFIER_BIN, else notifier
// beside this executable.
func fullBinary(env map[string]string) (string, error) {
	if b := env["NOTIFIER_BIN"]; b != "" {
		return b, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the notifier binary: %w", err)
	}
	return filepath.Join(filepath.Dir(self), "notifier"), nil
}
