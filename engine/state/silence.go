package state

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// Silence holds back notifications for events its expression matches,
// until it expires. Silenced events are recorded, not delivered; resolves
// of incidents opened before still go out.
type Silence struct {
	ID      string    `json:"id"`
	Match   string    `json:"match"`
	Author  string    `json:"author,omitempty"`
	Comment string    `json:"comment"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// SilenceID is the record of the silence with id (as silence list shows
// it), bounded (MaxIDLen): an operator may type anything.
func SilenceID(id string) string { return SilenceKind.ID(id) }

// NewSilenceID makes a short id an operator can type.
func NewSilenceID() string {
	var b [4]byte
	rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}

// Active reports whether s silences at now.
func (s Silence) Active(now time.Time) bool { return now.Before(s.Expires) && !now.Before(s.Created) }

// Record is how a silence is stored; it expires a day after the silence
// so that list still shows recently expired ones.
func (s Silence) Record() (string, *Record, error) {
	r, err := SilenceKind.Encode(s, s.Expires.Add(24*time.Hour))
	return SilenceID(s.ID), r, err
}

// Silences decodes the records Scan(SilencePrefix) returned, newest first.
// A nil record (deleted in an Update's map) is skipped.
func Silences(recs map[string]*Record) []Silence {
	var out []Silence
	for _, r := range recs {
		if s, ok := SilenceKind.Decode(r); ok && s.ID != "" {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Silence) int { return b.Created.Compare(a.Created) })
	return out
}

// MatchSilence returns the first active silence whose expression matches
// ev. Silences whose expression no longer compiles (the policy's windows
// changed) are reported through bad and never match.
func MatchSilence(p *engine.Policy, silences []Silence, ev *event.Event, now time.Time, bad func(Silence, error)) *Silence {
	for i, s := range silences {
		if !s.Active(now) {
			continue
		}
		m, ps := p.CompileMatch("silence "+s.ID, s.Match)
		if m == nil {
			if bad != nil {
				bad(s, errorsOf(ps))
			}
			continue
		}
		if m.Match(ev) {
			return &silences[i]
		}
	}
	return nil
}

type problemsError struct{ ps policy.Problems }

func (e problemsError) Error() string { return strings.ReplaceAll(e.ps.Error(), "\n", "; ") }

func errorsOf(ps policy.Problems) error { return problemsError{ps} }
