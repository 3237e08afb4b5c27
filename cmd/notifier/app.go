package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"notifier/engine/pacemaker"
)

// defaultConfig is where CMON's and Pacemaker's invocations find the
// policy when nothing says otherwise: CMON runs plugins with no arguments.
const defaultConfig = "/etc/notifier/notifier.yaml"

// app is one invocation: its I/O and environment are parameters so tests
// run commands in-process exactly as the binary does.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            map[string]string
	start          time.Time
	at             *time.Time // explain --at: the clock state is judged by
	// attention is set when something needs a person though nothing was
	// lost: a channel that could not be built (a secret file missing or
	// unreadable; its deliveries stay queued and are retried), a rule
	// that failed on the event (the later rules still decided). The run
	// or flush then exits 1, so the caller logs it.
	attention atomic.Bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: pacemaker.EnvMap(environ), start: time.Now()}
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return a.runCmd(args)
	case "explain":
		return a.explainCmd(args)
	case "version":
		return a.versionCmd(args)
	case "flush":
		return a.flushCmd(args)
	case "silence":
		return a.silenceCmd(args)
	case "history":
		return a.historyCmd(args)
	case "lint":
		return a.lintCmd(args)
	case "test":
		return a.testCmd(args)
	case "schema":
		return a.schemaCmd(args)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}

const usage = `usage: notifier [command] [flags]

commands:
  run       (default) decide and deliver one event from Pacemaker's environment or stdin
  explain   show what would happen to one event, without delivering
  lint      check policy files: every problem at its file:line:col
  test      run policy unit tests (events at virtual times, expected deliveries)
  schema    print the JSON Schema of the policy format
  flush     deliver what the outbox holds
  silence   add, list or expire silences
  history   recent decisions, deliveries, queued and given-up deliveries
  version   print version information

Run 'notifier COMMAND -h' for a command's flags.
`

// newFlags makes a command's flag set; parse errors become usage errors.
// configUsage is how every command's --config flag is described.
const configUsage = "policy file or directory (default $NOTIFIER_CONFIG, else " + defaultConfig + ")"

func (a *app) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("notifier "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErr("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	return nil
}

// parseFlagsArgs parses flags that may come before, between or after the
// positional arguments (`notifier lint policies/ --strict`), and returns
// the positional ones; after "--" everything is positional.
func parseFlagsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: exitOK}
			}
			return nil, &exitError{code: exitUsage}
		}
		left := fs.Args()
		if consumed := len(args) - len(left); len(left) == 0 || (consumed > 0 && args[consumed-1] == "--") {
			return append(rest, left...), nil
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

// configPath resolves --config, then $NOTIFIER_CONFIG, then the default.
func (a *app) configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := a.env["NOTIFIER_CONFIG"]; p != "" {
		return p
	}
	return defaultConfig
}

// defaultCacheDir holds policy snapshots (engine.LoadCached); the
// packages create /var/lib/notifier group-writable for haclient.
const defaultCacheDir = "/var/lib/notifier/cache"

// cacheDir is $NOTIFIER_CACHE_DIR, else the default; "off" disables the
// snapshot cache.
func (a *app) cacheDir() string {
	switch d := a.env["NOTIFIER_CACHE_DIR"]; d {
	case "":
		return defaultCacheDir
	case "off":
		return ""
	default:
		return d
	}
}

// hostname is the local host's name, for the controller field and the
// policy's mark in the state: asked once per process.
var hostname = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
})
