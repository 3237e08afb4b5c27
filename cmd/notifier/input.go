package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
)

// Sources --source accepts.
const (
	sourceAuto      = "auto"
	sourceCMON      = "cmon"
	sourcePacemaker = "pacemaker"
	sourceJSON      = "json"
)

// errIgnored means the input was understood and deliberately not acted on
// (a CMON message that is not an alarm).
var errIgnored = errors.New("ignored")

// input is the raw event before decoding: Pacemaker's environment or the
// bytes of a message.
type input struct {
	source string
	env    map[string]string
	data   []byte
}

// readInput finds the event: Pacemaker's variables are checked first and
// stdin is never touched when they are present (Pacemaker gives agents
// /dev/null or an inherited descriptor). eventFile, if set, replaces
// stdin (and the environment) as in explain --event.
func (a *app) readInput(ctx context.Context, source, eventFile string) (*input, error) {
	switch source {
	case sourceAuto, sourceCMON, sourcePacemaker, sourceJSON:
	default:
		return nil, usageErr("--source %q: want cmon, pacemaker or json", source)
	}
	if eventFile != "" {
		data, err := os.ReadFile(eventFile)
		if err != nil {
			return nil, inputErr(fmt.Errorf("--event: %w", err))
		}
		if source == sourcePacemaker || (source == sourceAuto && looksLikeEnvFile(data)) {
			env, err := pacemaker.ParseEnvFile(data)
			if err != nil {
				return nil, inputErr(fmt.Errorf("%s: %w", eventFile, err))
			}
			return &input{source: sourcePacemaker, env: env}, nil
		}
		if source == sourceAuto {
			source = sourceCMON
		}
		return &input{source: source, data: data}, nil
	}
	if source == sourcePacemaker || (source == sourceAuto && pacemaker.Detect(a.env)) {
		return &input{source: sourcePacemaker, env: a.env}, nil
	}
	if source == sourceAuto {
		source = sourceCMON
	}
	if isTerminal(a.stdin) {
		// Someone ran it by hand: say what it waits for, not nothing.
		what := "a CMON alarm"
		if source == sourceJSON {
			what = "an event"
		}
		fmt.Fprintf(a.stderr, "notifier: reading %s (JSON) from standard input; end it with Ctrl-D, or give a saved event with: notifier explain --event FILE\n", what)
	}
	data, err := cmon.ReadInput(ctx, a.stdin)
	if err != nil {
		// What was read (the first MiB of an oversized message) comes back
		// with the error, for rejected/.
		var partial *input
		if len(data) > 0 {
			partial = &input{source: source, data: data}
		}
		return partial, inputErr(fmt.Errorf("stdin: %w", err))
	}
	return &input{source: source, data: data}, nil
}

// looksLikeEnvFile tells a captured Pacemaker environment from JSON.
func looksLikeEnvFile(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] != '{' && t[0] != '[' &&
		(bytes.Contains(data, []byte("CRM_alert_kind=")) || bytes.Contains(data, []byte("CRM_notify_kind=")))
}

// decode turns the raw input into an Event. now is the receipt time.
func (in *input) decode(now time.Time, cluster event.ClusterDefaults) (*event.Event, error) {
	var ev event.Event
	var err error
	switch in.source {
	case sourcePacemaker:
		ev, err = pacemaker.Decode(in.env, pacemaker.Options{Host: hostname(), Now: now, Cluster: cluster})
	case sourceCMON:
		ev, err = cmon.Decode(in.data, cmon.Options{Now: now, Host: hostname(), Cluster: cluster})
		var na *cmon.NotAlarmError
		if errors.As(err, &na) {
			return nil, fmt.Errorf("%w: cmon message of type %q is not an alarm", errIgnored, na.Type)
		}
	case sourceJSON:
		ev, err = event.DecodeJSON(in.data, now)
	}
	if err != nil {
		return nil, inputErr(err)
	}
	return &ev, nil
}
