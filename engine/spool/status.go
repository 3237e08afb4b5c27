package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"notifier/internal/safedir"
)

// The status request on the wake-up socket: a client sends statusRequest
// instead of an id; the engine answers one line of JSON (EngineStatus)
// and closes, or "no: unsupported" when it was given no status func.
const statusRequest = "status"

// maxStatusLine bounds the answer AskStatus reads: an engine's status is
// a few hundred bytes per policy, so a longer line is not a status.
const maxStatusLine = 1 << 20

// EngineStatus is what a running engine says of itself over the wake-up
// socket (`notifier status` shows it).
type EngineStatus struct {
	// PID is the engine's process id.
	PID int `json:"pid"`
	// Owner is the engine's owner id for spool claims and outbox leases.
	Owner string `json:"owner"`
	// Started is when the engine started.
	Started time.Time `json:"started"`
	// Version is the engine binary's version.
	Version string `json:"version"`
	// Spool is the spool directory the engine serves.
	Spool string `json:"spool"`
	// Policies are the policies the engine serves, in the order given.
	Policies []PolicyStatus `json:"policies"`
	// InFlight counts the entries claimed and not yet done.
	InFlight int `json:"in_flight"`
	// Claimed and Declined count the wake-ups answered since the start.
	Claimed  uint64 `json:"claimed"`
	Declined uint64 `json:"declined"`
}

// PolicyStatus is one policy an engine serves.
type PolicyStatus struct {
	// Path is the policy file, as the engine was given it.
	Path string `json:"path"`
	// LoadedAt is when the policy in use was loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// LastGood is set when the file no longer loads and the engine keeps
	// deciding with the last version that did; Error says why.
	LastGood bool   `json:"last_good"`
	Error    string `json:"error,omitempty"`
	// Problems counts what needed a person in the decisions and flushes
	// made with the policy since it was loaded (a template that failed,
	// a delivery neither made nor queued, deciding without state: what
	// makes an invocation exit 1); LastProblem is the last one's line,
	// at LastProblemAt. A reload starts again from zero.
	Problems      int       `json:"problems,omitempty"`
	LastProblem   string    `json:"last_problem,omitempty"`
	LastProblemAt time.Time `json:"last_problem_at,omitzero"`
}

// Errors of AskStatus, for callers to tell apart (errors.Is).
var (
	// ErrNoEngine: nothing listens on the spool's wake-up socket.
	ErrNoEngine = errors.New("spool: no engine listening")
	// ErrNoAnswer: an engine accepted the connection but did not answer
	// within the bound (hung, or stopped with SIGSTOP).
	ErrNoAnswer = errors.New("spool: the engine did not answer in time")
	// ErrStatusUnsupported: the engine answers wake-ups but was given no
	// status func.
	ErrStatusUnsupported = errors.New("spool: the engine does not report its status")
)

// AskStatus asks the engine listening in the spool at dir for its status
// and waits at most bound for the answer, which it decodes strictly (one
// JSON object of the EngineStatus fields and nothing else).
func AskStatus(dir string, bound time.Duration) (*EngineStatus, error) {
	deadline := time.Now().Add(bound)
	conn, _, err := dialWake(dir, deadline)
	if errors.Is(err, fs.ErrPermission) {
		// There is a socket, not for this user: not "no engine".
		return nil, fmt.Errorf("spool: asking the engine's status: %w", err)
	}
	if conn == nil {
		// As in Wake: any other failure to connect means no engine to ask.
		return nil, fmt.Errorf("%w on %s", ErrNoEngine, filepath.Join(dir, WakeSocket))
	}
	defer conn.Close()
	if err := conn.send([]byte(statusRequest + "\n")); err != nil {
		return nil, askFailed(err)
	}
	line, err := conn.readLine(maxStatusLine)
	if err != nil {
		return nil, askFailed(err)
	}
	if rest, ok := bytes.CutPrefix(line, []byte("no: ")); ok {
		if string(rest) == "unsupported" {
			return nil, ErrStatusUnsupported
		}
		return nil, fmt.Errorf("spool: the engine refused the status request: %.80q", rest)
	}
	return decodeStatus(line)
}

// decodeStatus decodes an engine's status line strictly: unknown fields,
// a second value or trailing bytes are an error, not ignored.
func decodeStatus(line []byte) (*EngineStatus, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var st EngineStatus
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("spool: the engine's status: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("spool: the engine's status: trailing data after the object")
	}
	return &st, nil
}

func askFailed(err error) error {
	if err == errWakeTimeout {
		return ErrNoAnswer
	}
	return fmt.Errorf("spool: asking the engine's status: %w", err)
}

// ServeOptions are the optional parts of an engine's side of the socket.
type ServeOptions struct {
	// Status, if set, answers the status request (AskStatus). It runs in
	// the connection's goroutine and must return at once (a snapshot of
	// counters), never wait on the engine's work.
	Status func() EngineStatus
	// Wants, if set, is asked before the engine claims an entry whether
	// it wants one of this policy and state path (the wake-up line's,
	// or, for a line with only an id, the entry's own, read with Peek):
	// one it does not want (another policy's, or the engine is too busy
	// to decide it soon) is answered "no: " and reason and left in new/
	// untouched, so that its drop claims it at once — never a claim then
	// a release, which a drop that gave up in between would take for the
	// engine's. An entry the engine cannot read with Peek is left so too
	// (the drop that wrote it can). It runs in the connection's goroutine
	// while the drop waits, and must return at once. An entry it wants
	// on a v3 line is answered "claimed" at once, then renamed into
	// claimed/, read once and handed to accept (see Lost and Mismatch for
	// what becomes of one it cannot take after all). On a v1 or v2 line
	// it is renamed and read first (no Peek before it, for v2); unusable
	// (perhaps a newer drop's format) or not what the line said, it goes
	// back into new/ and the answer is "no", for its drop to decide
	// (should the drop have given up meanwhile, the entry waits in new/
	// for a flush); else accept decides, and the answer follows it.
	Wants func(policy, statePath string) (ok bool, reason string)
	// Claiming, if set, is told of each entry renamed into claimed/ by a
	// wake-up, before it is read, and the func it returns once the entry
	// has been handed to accept (or found unusable, or not the line's):
	// wake-ups are answered concurrently, so a newer entry of a key may
	// reach accept before an older one claimed a moment earlier, and an
	// engine that decides in receipt order waits for the claims in
	// between (engine/serve).
	Claiming func(id string) (handed func())
	// Mismatch, if set, is told of an entry claimed on a wake-up line
	// whose policy or state path are not the entry's (a lying or buggy
	// drop): it has been put back into new/ (released is false if that
	// failed) and the engine does not decide it. why says what differed.
	Mismatch func(id, why string, released bool)
	// Lost, if set, is told of an entry a v3 wake-up answered "claimed"
	// that the engine then could not take: err says why and where the
	// entry is (back in new/, for the engine's scan or a flush; bad/;
	// claimed/ for the next engine's takeover). An entry another claimer
	// took first is not told: it is theirs, and decided once. A mismatch
	// is told to Mismatch. Without Wants, no answer comes first.
	Lost func(id string, err error)
}

// ServeWith is Serve with options: with opts.Status set, the engine also
// answers status requests.
func (s *Spool) ServeWith(ctx context.Context, l Listener, owner string, accept func(*Claimed) bool, opts ServeOptions) error {
	return s.serve(ctx, l, owner, accept, opts)
}

// answerStatus answers a status request on conn with one line of JSON,
// or "no: unsupported" when the engine has no status to give.
func answerStatus(conn Conn, status func() EngineStatus) {
	if status == nil {
		conn.Write([]byte("no: unsupported\n"))
		return
	}
	data, err := json.Marshal(status())
	if err != nil || len(data) > maxStatusLine {
		conn.Write([]byte("no: status unavailable\n"))
		return
	}
	conn.Write(append(data, '\n'))
}

// ReadStats is Stats of the spool at path, read without making any of
// its directories (Open makes what is missing): `notifier status` looks
// and sets nothing up. A missing subdirectory holds nothing; a missing
// spool is an error wrapping fs.ErrNotExist.
func ReadStats(path string) (Stats, error) {
	var st Stats
	root, err := safedir.Open(path, false)
	if err != nil {
		return st, fmt.Errorf("spool: %w", err)
	}
	root.Close()
	names := func(sub string) ([]string, error) {
		d, err := safedir.Open(filepath.Join(path, sub), false)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		defer d.Close()
		ns, err := d.Names()
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		return ns, nil
	}
	// As Stats counts: ids in new/ (List), well-named claims, any file in bad/.
	var ids []string
	ns, err := names(NewDir)
	if err != nil {
		return st, err
	}
	for _, n := range ns {
		if ValidID(n) {
			ids = append(ids, n)
		}
	}
	st.New = len(ids)
	if ns, err = names(ClaimedDir); err != nil {
		return st, err
	}
	for _, n := range ns {
		if id, _, ok := parseClaimed(n); ok {
			st.Claimed++
			ids = append(ids, id)
		}
	}
	if ns, err = names(BadDir); err != nil {
		return st, err
	}
	st.Bad = len(ns)
	if len(ids) > 0 {
		st.Oldest, _ = idTime(slices.Min(ids))
	}
	return st, nil
}
