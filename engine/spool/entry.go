package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"notifier/engine/event"
)

// Version is the entry format this package writes and reads.
const Version = 1

// MaxEntrySize bounds an entry when it is read: CMON's input is capped
// well below it, and a larger file is not an entry a drop wrote.
const MaxEntrySize = 1 << 20

// Entry is one spooled event and everything its decision needs, so that
// the engine (or whoever claims it) never reads the caller's input.
type Entry struct {
	// V is the format version (Version).
	V int `json:"v"`
	// ID names the entry's file; it sorts by receipt time (NewID).
	ID string `json:"id"`
	// Policy is the absolute path of the policy the event is for: an
	// engine serves only the policies it was started with.
	Policy string `json:"policy"`
	// Event is the decoded, validated event.
	Event event.Event `json:"event"`
	// Occurrence identifies the occurrence for Pacemaker's per-recipient
	// duplicates (engine/pacemaker); empty for sources without them.
	Occurrence string `json:"occurrence"`
	// Received is when the drop received the event.
	Received time.Time `json:"received"`
	// Source says who dropped it (cmon, pacemaker, a command), for
	// messages and history.
	Source string `json:"source"`
	// Input is the raw input as the drop read it: a claimer decodes it
	// again with its policy's settings (cluster defaults), which the drop
	// never reads (engine/drop's EventOf).
	Input Input `json:"input"`
	// StatePath is the dropping process's $NOTIFIER_STATE_PATH ("" when
	// unset): a claimer takes the entry only when its own is the same.
	StatePath string `json:"state_path,omitempty"`
}

// Input is an event's raw input, kept in its entry.
type Input struct {
	// Source is the decoder the input is for: InputCMON, InputPacemaker
	// or InputJSON.
	Source string `json:"source"`
	// Data is stdin (or the event file) as read.
	Data []byte `json:"data,omitempty"`
	// Env is Pacemaker's environment: only the CRM_* and NOTIFIER_*
	// variables (the rest of the environment is not ours to write down).
	Env map[string]string `json:"env,omitempty"`
	// Host is the name of the host that received the input.
	Host string `json:"host"`
}

// The sources an Input may name.
const (
	InputCMON      = "cmon"
	InputPacemaker = "pacemaker"
	InputJSON      = "json"
)

// ErrBadEntry is wrapped by the errors of an entry that cannot be used:
// it has been moved to bad/.
var ErrBadEntry = errors.New("bad spool entry")

func (e *Entry) check() error {
	switch {
	case e.V != Version:
		return fmt.Errorf("version %d, this notifier reads %d", e.V, Version)
	case !ValidID(e.ID):
		return fmt.Errorf("id %.80q is not a spool id", e.ID)
	case !filepath.IsAbs(e.Policy) || filepath.Clean(e.Policy) != e.Policy:
		return fmt.Errorf("policy %.200q is not a clean absolute path", e.Policy)
	case e.Received.IsZero():
		return fmt.Errorf("no receipt time")
	case e.Event.Key == "":
		return fmt.Errorf("event has no key")
	case e.Input.Source != InputCMON && e.Input.Source != InputPacemaker && e.Input.Source != InputJSON:
		return fmt.Errorf("input source %.40q: want cmon, pacemaker or json", e.Input.Source)
	case e.StatePath != "" && !filepath.IsAbs(e.StatePath):
		return fmt.Errorf("state path %.200q is not absolute", e.StatePath)
	}
	return nil
}

func (e *Entry) encode() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("spool: entry: %w", err)
	}
	data, err := appendEntry(make([]byte, 0, 2048+3*len(e.Input.Data)), e)
	if err != nil {
		return nil, fmt.Errorf("spool: entry: %w", err)
	}
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("spool: entry of %d bytes is larger than %d", len(data), MaxEntrySize)
	}
	return data, nil
}

// DecodeEntry reads an entry strictly: at most MaxEntrySize bytes, one
// JSON object with exactly Entry's names (no unknown, duplicate or
// differently cased keys, also inside the event and the input), this
// Version, a valid id, a clean absolute policy path, a receipt time, an
// event key, a known input source and an absolute state path (or none).
func DecodeEntry(data []byte) (Entry, error) {
	var e Entry
	if len(data) > MaxEntrySize {
		return e, fmt.Errorf("entry of %d bytes is larger than %d", len(data), MaxEntrySize)
	}
	// One pass over the bytes for the keys (names, case, duplicates at
	// any depth), then the decode: not the duplicate walk and the three
	// decodes into maps (the top level, the event, the input) of before.
	keysErr := checkEntryKeys(data)
	if keysErr != nil && !errors.Is(keysErr, errSyntax) {
		return e, fmt.Errorf("entry: %w", keysErr)
	}
	// json.Unmarshal refuses trailing data itself; an unknown field is
	// one the scan refused already (Entry, event.Event and Input hold no
	// other struct a document could add fields to).
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("entry: %w", err)
	}
	if keysErr != nil {
		// Not JSON to the scan, yet decoded: refused all the same.
		return Entry{}, fmt.Errorf("entry: %w", keysErr)
	}
	if err := e.check(); err != nil {
		return e, fmt.Errorf("entry: %w", err)
	}
	return e, nil
}
