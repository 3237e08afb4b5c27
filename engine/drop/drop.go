// Package drop is what every invocation by CMON or Pacemaker does first:
// read and validate its input exactly as a run always has, write it
// durably into the spool (engine/spool) with everything its decision
// needs, and wake the engine. Both binaries share it: `notifier` (run)
// and the small `notifier-drop`, which links nothing of the policy, the
// state or the channels (a test keeps it so), so the drop never reads
// or compiles the policy.
package drop

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/spool"
)

// DefaultStatePath is engine/state's DefaultBoltPath (a test keeps them
// equal): where the state, and so rejected/, is when nothing says
// otherwise.
const DefaultStatePath = "/var/lib/notifier/state.db"

// SpoolDir is the spool a command uses: flag (--spool), else
// $NOTIFIER_SPOOL, else "spool" beside $NOTIFIER_STATE_PATH when that is
// set (tests point it at a temporary directory, and the spool follows),
// else spool.Default.
func SpoolDir(flag string, env map[string]string) string {
	switch {
	case flag != "":
		return flag
	case env["NOTIFIER_SPOOL"] != "":
		return env["NOTIFIER_SPOOL"]
	case env["NOTIFIER_STATE_PATH"] != "":
		return filepath.Join(filepath.Dir(env["NOTIFIER_STATE_PATH"]), "spool")
	}
	return spool.Default
}

// StatePath is the state path the drop knows of: $NOTIFIER_STATE_PATH,
// else DefaultStatePath. A policy's settings.state.path is not read.
func StatePath(env map[string]string) string {
	if p := env["NOTIFIER_STATE_PATH"]; p != "" {
		return p
	}
	return DefaultStatePath
}

// PolicyPath is how an entry names its policy: path made absolute and
// cleaned, not resolving links (the policy is never opened here).
func PolicyPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("policy path %s: %w", path, err)
	}
	return abs, nil
}

// ClaimWait is how long a drop waits for the engine to claim its entry:
// $NOTIFIER_CLAIM_WAIT (a Go duration; 0: do not wait, no engine is
// asked), else spool.DefaultWakeBound.
func ClaimWait(env map[string]string) (time.Duration, error) {
	s := env["NOTIFIER_CLAIM_WAIT"]
	if s == "" {
		return spool.DefaultWakeBound, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, &UsageError{fmt.Errorf("$NOTIFIER_CLAIM_WAIT %q: want a duration such as 300ms, or 0", s)}
	}
	return d, nil
}

// Options is one drop.
type Options struct {
	// Policy is the policy path as resolved (--config, $NOTIFIER_CONFIG,
	// the default); the entry records it absolute and clean.
	Policy string
	// Env is the process's environment.
	Env map[string]string
	// Stdin is read for CMON and JSON input.
	Stdin io.Reader
	// Source is --source (SourceAuto when empty); EventFile, --event.
	Source, EventFile string
	// Hint is told, when stdin is a terminal, what is expected on it.
	Hint io.Writer
	// Received is the receipt time (the process's start).
	Received time.Time
	// Owner, when set, is asked for the caller's owner id when the entry
	// is to be claimed for the caller because the engine does not take
	// it (Spool.ClaimUnlessWoken's rule; never asked when the engine does: making
	// an id costs a drop measurably); when nil the entry is only offered
	// (Spool.Wake) and, unclaimed, stays in new/ for whoever the caller
	// hands it to.
	Owner func() string
	// Wait bounds the wait for the engine (ClaimWait); 0 asks no engine.
	Wait time.Duration
}

// Drop is the whole drop: Take, then Put. Unless the engine (or another
// claimer) has the entry, the Claimed returned is the caller's to decide
// (with an Owner), or nil and the entry waits in new/ (without).
func Drop(ctx context.Context, s *spool.Spool, o Options) (*spool.Entry, *spool.Claimed, spool.WakeResult, error) {
	e, err := Take(ctx, o)
	if err != nil {
		return nil, nil, spool.WakeNoEngine, err
	}
	c, r, err := Put(s, e, o.Owner, o.Wait)
	return e, c, r, err
}

// Take reads and decodes the input as a run always has: errors are
// *UsageError, *InputError (keep its Input with Reject) or wrap
// ErrIgnored (not an alarm: nothing to spool). ctx bounds the read.
func Take(ctx context.Context, o Options) (*spool.Entry, error) {
	source := o.Source
	if source == "" {
		source = SourceAuto
	}
	in, err := Read(ctx, o.Stdin, o.Env, source, o.EventFile, o.Hint)
	if err != nil {
		return nil, err
	}
	ev, err := Decode(in, o.Received, event.ClusterDefaults{})
	if err != nil {
		return nil, err
	}
	policy, err := PolicyPath(o.Policy)
	if err != nil {
		return nil, &UsageError{err}
	}
	e := &spool.Entry{
		Policy:     policy,
		Event:      *ev,
		Occurrence: pacemaker.OccurrenceOf(ev),
		Received:   o.Received,
		Source:     in.Source,
		Input:      *in,
	}
	if e.StatePath, err = EnvStatePath(o.Env); err != nil {
		return nil, &UsageError{err}
	}
	return e, nil
}

// EnvStatePath is $NOTIFIER_STATE_PATH as an entry records it: made
// absolute ("" when unset). A claimer compares its own, made so, with
// the entry's.
func EnvStatePath(env map[string]string) (string, error) {
	p := env["NOTIFIER_STATE_PATH"]
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("$NOTIFIER_STATE_PATH: %w", err)
	}
	return abs, nil
}

// Put spools e and offers it to the engine, dialling the engine's
// wake-up socket first:
//
//   - an engine listens: e is written durably (Spool.Put: exit 0 means on
//     disk) and offered; with an Owner, claimed for it unless the engine
//     took it (Spool.ClaimUnlessWoken's rule); without, only offered;
//   - no engine (or wait is 0: do not wait for one): the caller decides
//     e itself and reports success only once its decision committed,
//     which makes it durable, so e is written without the spool's fsyncs
//     (it need only outlive a kill of the caller, for flush to find),
//     straight into claimed/ for the Owner (Spool.PutClaimed); without
//     an Owner it is written durably and left in new/.
//
// An error means nothing is spooled, except spool.ErrNotDurable: the
// entry is in new/, or the engine's, but was not made durable. Claimed
// here, it is returned with no error (the caller's committed decision is
// its record); otherwise the error says the engine or a later claimer
// has it, and the caller must not decide it again.
func Put(s *spool.Spool, e *spool.Entry, owner func() string, wait time.Duration) (*spool.Claimed, spool.WakeResult, error) {
	var (
		conn       *spool.WakeConn
		notDurable error
	)
	r := spool.WakeNoEngine
	if wait > 0 {
		conn, r = spool.DialWake(s.Path, time.Now().Add(wait))
	}
	if conn == nil && r == spool.WakeNoEngine && owner != nil {
		c, err := s.PutClaimed(e, owner())
		return c, r, err
	}
	if conn == nil {
		if err := s.Put(e); err != nil {
			if !errors.Is(err, spool.ErrNotDurable) {
				return nil, r, err
			}
			notDurable = err // in new/: decided only by its claimer
		}
	} else {
		// The engine is asked as soon as the entry is in new/, while new/
		// is fsync'd (Spool.PutWake: it returns only after both).
		var err error
		if r, err = s.PutWake(e, conn, wait); err != nil && !errors.Is(err, spool.ErrNotDurable) {
			return nil, r, err
		}
		notDurable = err
	}
	if owner == nil || r == spool.WakeClaimed {
		return nil, r, notDurable
	}
	c, r, err := s.ClaimUnlessWoken(r, e.ID, owner())
	if err == nil && c == nil && notDurable != nil {
		// The engine has it, and its file was not made durable: the
		// caller says so (exit 1) and does not decide it again. Claimed
		// here instead, the caller's decision, committed, is its record.
		return nil, r, notDurable
	}
	return c, r, err
}

// NewOwner makes a claimer's owner id as engine/state's NewOwner does
// (host, process id, a random part; liveness by state.OwnerAlive, which
// a test holds this to), for notifier-drop, which links nothing of
// engine/state. The process it execs keeps its pid, and so adopts the
// claim (`notifier run --spooled ID --owner OWNER`).
func NewOwner() string {
	r := spool.Random4()
	return hostname() + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(r[:])
}

// OwnedHere reports whether owner (NewOwner's form) names this process.
func OwnedHere(owner string) bool {
	host, rest, ok := strings.Cut(owner, "/")
	pid, _, ok2 := strings.Cut(rest, "/")
	return ok && ok2 && host == hostname() && pid == strconv.Itoa(os.Getpid())
}
