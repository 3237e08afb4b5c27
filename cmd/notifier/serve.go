package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"notifier/engine/drop"
	"notifier/engine/metrics"
	"notifier/engine/serve"
	"notifier/engine/spool"
)

// serveCmd runs the resident engine in the foreground until SIGTERM or
// SIGINT (or --idle): it decides what the drops spool, for the policies
// it is started with; SIGHUP reloads them.
func (a *app) serveCmd(args []string) error {
	fs := a.newFlags("serve")
	var configs stringList
	fs.Var(&configs, "config", configUsage+"; repeat to serve several")
	spoolFlag := fs.String("spool", "", "spool directory (default $NOTIFIER_SPOOL, else beside $NOTIFIER_STATE_PATH, else "+spool.Default+")")
	idle := fs.Duration("idle", 0, "exit after this long with nothing to do (0: never)")
	workers := fs.Int("workers", serve.DefaultWorkers, "events decided (and delivered) at once, at most")
	watchEvery := fs.Duration("self-check", 10*time.Second, "how often the engine checks what settings.self_alert watches")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 1 {
		return usageErr("serve: --workers must be at least 1")
	}
	if engineMetrics == nil {
		// This notifier has no /metrics: notifier-engine, the same
		// commands built with them, runs the engine when it is there.
		if bin, ok := engineBinary(a.env); ok {
			// The mark stops a loop, should bin be a plain notifier too.
			env := append(os.Environ(), execedMark+"=1")
			err := syscall.Exec(bin, append([]string{bin, "serve"}, args...), env)
			// Still here: it could not be run. The engine still can.
			fmt.Fprintf(a.stderr, "notifier: serve: running %s: %v: serving without /metrics\n", bin, err)
		}
	}
	if len(configs) == 0 {
		configs = stringList{a.configPath("")}
	}
	// Made as the drop makes the paths its entries name (an engine
	// serves an entry whose path is one of these, string for string).
	for i, c := range configs {
		abs, err := drop.PolicyPath(c)
		if err != nil {
			return configErr(fmt.Errorf("policy path %s: %w", c, err))
		}
		configs[i] = abs
	}
	statePath, err := drop.EnvStatePath(a.env)
	if err != nil {
		return configErr(err)
	}
	sp, err := spool.Open(a.spoolDir(*spoolFlag))
	if err != nil {
		return problemErr(err)
	}
	defer sp.Close()
	// All four now, not on first use: a subdirectory that is a link or
	// someone else's stops the engine at start, loudly, instead of
	// failing each entry later (an unreadable entry could not even be
	// moved to bad/).
	if err := sp.Prepare(spool.TmpDir, spool.NewDir, spool.ClaimedDir, spool.BadDir); err != nil {
		return problemErr(err)
	}
	l, err := serve.Activated(a.env)
	if err != nil {
		return problemErr(err)
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k) // not for the children (none today)
	}
	var srv *serve.Server
	var sink metrics.Sink
	var handler http.Handler
	if engineMetrics != nil {
		sink, handler = engineMetrics(func(s metrics.Sink) { srv.Gather(s) })
	}
	srv, err = serve.New(serve.Config{
		Metrics:        sink,
		MetricsHandler: handler,
		Policies:       configs,
		Spool:          sp,
		StatePath:      statePath,
		CacheDir:       a.cacheDir(),
		Workers:        *workers,
		WatchEvery:     *watchEvery,
		Idle:           *idle,
		Note:           func(line string) { fmt.Fprintf(a.stderr, "notifier: %s\n", line) },
		// The event decoded again from the entry's input, with the
		// policy's cluster defaults, as an in-process run decodes it.
		Decode:   drop.EventOf,
		Listener: l,
		Host:     drop.Hostname(),
		Version:  version,
	})
	if err != nil {
		return problemErr(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				srv.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	err = srv.Run(ctx)
	var locked *serve.LockedError
	if errors.As(err, &locked) {
		return configErr(locked)
	}
	if err != nil {
		return problemErr(err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// engineMetrics, set in the engine build (serve_engine.go), makes the
// engine's metrics registry: what it is told, and the /metrics handler
// that calls gather at each scrape. Nil in the plain build.
var engineMetrics func(gather func(metrics.Sink)) (metrics.Sink, http.Handler)

// execedMark is set in the environment of the notifier-engine that
// `notifier serve` runs.
const execedMark = "NOTIFIER_ENGINE_EXECED"

// engineBinary is notifier-engine: $NOTIFIER_ENGINE_BIN, else beside
// this executable; false when there is none (the engine then runs in
// this process, without /metrics).
func engineBinary(env map[string]string) (string, bool) {
	if env[execedMark] != "" {
		return "", false
	}
	if bin := env["NOTIFIER_ENGINE_BIN"]; bin != "" {
		return bin, true
	}
	self, err := os.Executable()
	if err != nil {
		return "", false
	}
	bin := filepath.Join(filepath.Dir(self), "notifier-engine")
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	return bin, true
}
