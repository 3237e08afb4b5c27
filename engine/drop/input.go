package drop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/spool"
)

// Sources --source accepts: auto, or one of the decoders.
const (
	SourceAuto      = "auto"
	SourceCMON      = spool.InputCMON
	SourcePacemaker = spool.InputPacemaker
	SourceJSON      = spool.InputJSON
)

// ReadBound bounds reading stdin: the drop never reads the policy, so it
// cannot know its deadline, and waits as long as the default one
// (engine/policy's DefaultDeadline, which a test keeps it equal to).
const ReadBound = 20 * time.Second

// Input is an event's raw input: Pacemaker's environment or the bytes
// of a message, as the spool entry keeps it.
type Input = spool.Input

// ErrIgnored means the input was understood and deliberately not acted
// on (a CMON message that is not an alarm).
var ErrIgnored = errors.New("ignored")

// UsageError is a mistake in how the command was called (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap is the mistake.
func (e *UsageError) Unwrap() error { return e.Err }

// InputError is input that cannot be used (exit 2): Input is what was
// read (nil when nothing was), to be kept in rejected/ (Reject).
type InputError struct {
	Input *Input
	Err   error
}

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap is why the input cannot be used.
func (e *InputError) Unwrap() error { return e.Err }

// Hostname is the local host's name, asked once per process.
var Hostname = func() string {
	if h := hostname(); h != "" {
		return h
	}
	return "localhost"
}

// hostname is os.Hostname's answer ("" on an error), asked once per
// process: it names the host in an Input and, as engine/state's does, in
// an owner id (NewOwner, OwnedHere).
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// Read finds the event: Pacemaker's variables are checked first and
// stdin is never touched when they are present (Pacemaker gives agents
// /dev/null or an inherited descriptor). eventFile, if set, replaces
// stdin (and the environment) as in explain --event. hint, when stdin is
// a terminal, is told what the command waits for.
func Read(ctx context.Context, stdin io.Reader, env map[string]string, source, eventFile string, hint io.Writer) (*Input, error) {
	switch source {
	case SourceAuto, SourceCMON, SourcePacemaker, SourceJSON:
	default:
		return nil, &UsageError{fmt.Errorf("--source %q: want cmon, pacemaker or json", source)}
	}
	if eventFile != "" {
		data, err := os.ReadFile(eventFile)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("--event: %w", err)}
		}
		if source == SourcePacemaker || (source == SourceAuto && looksLikeEnvFile(data)) {
			env, err := pacemaker.ParseEnvFile(data)
			if err != nil {
				return nil, &InputError{Err: fmt.Errorf("%s: %w", eventFile, err)}
			}
			return pacemakerInput(env), nil
		}
		if source == SourceAuto {
			source = SourceCMON
		}
		return &Input{Source: source, Data: data, Host: Hostname()}, nil
	}
	if source == SourcePacemaker || (source == SourceAuto && pacemaker.Detect(env)) {
		return pacemakerInput(env), nil
	}
	if source == SourceAuto {
		source = SourceCMON
	}
	if hint != nil && IsTerminal(stdin) {
		// Someone ran it by hand: say what it waits for, not nothing.
		what := "a CMON alarm"
		if source == SourceJSON {
			what = "an event"
		}
		fmt.Fprintf(hint, "notifier: reading %s (JSON) from standard input; end it with Ctrl-D, or give a saved event with: notifier explain --event FILE\n", what)
	}
	data, err := cmon.ReadInput(ctx, stdin)
	if err != nil {
		// What was read (the first MiB of an oversized message) comes back
		// with the error, for rejected/.
		var partial *Input
		if len(data) > 0 {
			partial = &Input{Source: source, Data: data, Host: Hostname()}
		}
		return nil, &InputError{Input: partial, Err: fmt.Errorf("stdin: %w", err)}
	}
	return &Input{Source: source, Data: data, Host: Hostname()}, nil
}

// pacemakerInput keeps only what Pacemaker and the alert gave: the rest
// of the environment is not ours to write to disk.
func pacemakerInput(env map[string]string) *Input {
	kept := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "CRM_") || strings.HasPrefix(k, "NOTIFIER_") {
			kept[k] = v
		}
	}
	return &Input{Source: SourcePacemaker, Env: kept, Host: Hostname()}
}

// looksLikeEnvFile tells a captured Pacemaker environment from JSON.
func looksLikeEnvFile(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] != '{' && t[0] != '[' &&
		(bytes.Contains(data, []byte("CRM_alert_kind=")) || bytes.Contains(data, []byte("CRM_notify_kind=")))
}

// Decode turns the raw input into an Event. now is the receipt time;
// cluster, the policy's defaults (none in the drop).
func Decode(in *Input, now time.Time, cluster event.ClusterDefaults) (*event.Event, error) {
	var ev event.Event
	var err error
	switch in.Source {
	case SourcePacemaker:
		ev, err = pacemaker.Decode(in.Env, pacemaker.Options{Host: in.Host, Now: now, Cluster: cluster})
	case SourceCMON:
		ev, err = cmon.Decode(in.Data, cmon.Options{Now: now, Host: in.Host, Cluster: cluster})
		var na *cmon.NotAlarmError
		if errors.As(err, &na) {
			return nil, fmt.Errorf("%w: cmon message of type %q is not an alarm", ErrIgnored, na.Type)
		}
	case SourceJSON:
		ev, err = event.DecodeJSON(in.Data, now)
	default:
		err = fmt.Errorf("input source %q: want cmon, pacemaker or json", in.Source)
	}
	if err != nil {
		return nil, &InputError{Input: in, Err: err}
	}
	return &ev, nil
}

// EventOf decodes a spool entry's event again from its raw input, with
// the claimer's policy's cluster defaults and the entry's receipt time as
// "now": the same event the invocation would have decided in-process.
func EventOf(e *spool.Entry, cluster event.ClusterDefaults) (*event.Event, error) {
	ev, err := Decode(&e.Input, e.Received, cluster)
	if err != nil {
		return nil, fmt.Errorf("spool entry %s: %w", e.ID, err)
	}
	return ev, nil
}

// Rejected is what rejected/ keeps of in: its name's extension and the
// bytes.
func Rejected(in *Input) (ext string, data []byte) {
	if in.Source != SourcePacemaker {
		return "input", in.Data
	}
	for _, k := range slices.Sorted(maps.Keys(in.Env)) {
		data = fmt.Appendf(data, "%s=%s\n", k, in.Env[k])
	}
	return "env", data
}

// Reject keeps in in dir (KeepRejected) and returns err saying where,
// or that it could not be kept.
func Reject(dir string, in *Input, err error) error {
	ext, data := Rejected(in)
	if path, kerr := KeepRejected(dir, ext, data); kerr == nil {
		return fmt.Errorf("%w (input kept in %s)", err, path)
	} else {
		return fmt.Errorf("%w (and it could not be kept: %v)", err, kerr)
	}
}
