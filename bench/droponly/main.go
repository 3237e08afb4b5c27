// Command droponly is what a drop built from our own decoders could cost
// at start-up: it links only what the drop needs (engine/cmon,
// engine/pacemaker, engine/event, encoding/json, net for the unix socket)
// and none of the policy engine, stores or channels. It reads the event
// as notifier's run path does (Pacemaker's CRM_alert_* variables first,
// else the CMON message on stdin), decodes it, spools the decoded event
// as JSON (bench/internal/spool), and pokes a unix socket to wake an
// engine (absent when benchmarking: a refused dial is ignored, as the
// drop must when no engine runs). With -raw it spools the bytes as read
// (the CMON message; Pacemaker's variables as KEY=VALUE lines) once they
// decode, leaving the engine to decode them again: that saves the
// reflective encoding of the event. bench/drop.sh times it against
// bench/hello and bench/dropfloor: the gap between it and dropfloor is
// the price of decoding and of these packages' init.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"notifier/bench/internal/spool"
	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
)

func main() {
	dir := flag.String("spool", "", "spool directory (tmp/ and new/ are made under it when missing)")
	sock := flag.String("socket", "", "unix socket to wake the engine on (optional; a failed dial is ignored)")
	raw := flag.Bool("raw", false, "spool the input as read, not the decoded event as JSON")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "droponly: -spool is required")
		os.Exit(2)
	}
	if err := run(*dir, *sock, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "droponly:", err)
		os.Exit(1)
	}
}

func run(dir, sock string, raw bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	now := time.Now()
	var ev event.Event
	var in []byte
	env := pacemaker.EnvMap(os.Environ())
	if pacemaker.Detect(env) {
		var err error
		if ev, err = pacemaker.Decode(env, pacemaker.Options{Host: host, Now: now}); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "CRM_") {
				in = append(append(in, kv...), '\n')
			}
		}
	} else {
		var err error
		if in, err = cmon.ReadInput(ctx, os.Stdin); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if ev, err = cmon.Decode(in, cmon.Options{Host: host, Now: now}); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
	}
	out := in
	if !raw {
		var err error
		if out, err = json.Marshal(&ev); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
	}
	if _, err := spool.Write(dir, out); err != nil {
		return err
	}
	if sock != "" {
		// The spool is durable already; the wake-up is a courtesy.
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "unix", sock); err == nil {
			c.Close()
		}
	}
	return nil
}
