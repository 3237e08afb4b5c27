package state

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// The registry of record kinds. Every record the decisions keep is of one
// kind: one id prefix, one Go type, and its JSON encoding done here and
// nowhere else. No two kinds share a prefix and no prefix starts
// another, so a Scan of one kind's prefix returns only that kind (until
// this registry existed occurrence records and outbox entries shared
// "o/", and an outbox scan returned both; see OccurrenceKind).

// Record id prefixes, one per kind.
const (
	WindowPrefix     = "w/"
	IncidentPrefix   = "i/"
	OccurrencePrefix = "a/"
	OutboxPrefix     = "o/"
	DeadPrefix       = "d/"
	FailurePrefix    = "f/"
	SilencePrefix    = "s/"
	HistoryPrefix    = "h/"
	DecidedPrefix    = "e/"
	HeldPrefix       = "t/"
	FlapPrefix       = "p/"
	InhibitionPrefix = "n/"
	SeenPrefix       = "x/"
	GroupPrefix      = "g/"
	RatePrefix       = "r/"
	DuePrefix        = "z/"
)

// Kind is one kind of record: its records' ids start with its prefix and
// their data is the JSON of a T.
type Kind[T any] struct {
	name, prefix string
}

// KindInfo describes a registered kind.
type KindInfo struct {
	Name   string
	Prefix string
	Type   reflect.Type
}

var registry []KindInfo

// register adds a kind to the registry; kinds are only made here, at
// package initialisation, so the registry is complete before any use.
func register[T any](name, prefix string) Kind[T] {
	registry = append(registry, KindInfo{Name: name, Prefix: prefix, Type: reflect.TypeFor[T]()})
	return Kind[T]{name: name, prefix: prefix}
}

// Kinds lists every registered kind.
func Kinds() []KindInfo { return slices.Clone(registry) }

// The kinds of record.
var (
	WindowKind     = register[Window]("window", WindowPrefix)
	IncidentKind   = register[Incident]("incident", IncidentPrefix)
	OccurrenceKind = register[Occurrence]("occurrence", OccurrencePrefix)
	OutboxKind     = register[Entry]("outbox entry", OutboxPrefix)
	DeadKind       = register[Entry]("dead letter", DeadPrefix)
	FailureKind    = register[Failure]("failure mark", FailurePrefix)
	SilenceKind    = register[Silence]("silence", SilencePrefix)
	HistoryKind    = register[HistoryEntry]("history entry", HistoryPrefix)
	DecidedKind    = register[Decided]("decided spool entry", DecidedPrefix)
	HeldKind       = register[Held]("held event", HeldPrefix)
	FlapKind       = register[Flap]("flap history", FlapPrefix)
	InhibitionKind = register[Inhibition]("inhibition", InhibitionPrefix)
	SeenKind       = register[Seen]("cross-node report", SeenPrefix)
	GroupKind      = register[Group]("group", GroupPrefix)
	RateKind       = register[RateWindow]("rate window", RatePrefix)
	DueKind        = register[DueIndex]("due index", DuePrefix)
)

// Prefix is where the kind's records live.
func (k Kind[T]) Prefix() string { return k.prefix }

// ID is the record id of the kind's record named name, bounded
// (MaxIDLen).
func (k Kind[T]) ID(name string) string { return boundID(k.prefix + name) }

// Owns reports whether id is one of the kind's.
func (k Kind[T]) Owns(id string) bool { return strings.HasPrefix(id, k.prefix) }

// Decode reads a record's data; false for a missing or unreadable record.
func (k Kind[T]) Decode(r *Record) (T, bool) {
	var v T
	if r == nil || json.Unmarshal(r.Data, &v) != nil {
		var zero T
		return zero, false
	}
	return v, true
}

// Encode is v's record, expiring at expires (never when zero).
func (k Kind[T]) Encode(v T, expires time.Time) (*Record, error) {
	data, err := encodeJSON(&v) // json.Marshal(v), by hand for some kinds
	if err != nil {
		return nil, fmt.Errorf("state: encode %s: %w", k.name, err)
	}
	return &Record{Data: data, Expires: expires}, nil
}

// Get reads the record id of recs, which must be one of the kind's:
// false when it is absent, unreadable, or of another kind.
func (k Kind[T]) Get(recs map[string]*Record, id string) (T, bool) {
	if !k.Owns(id) {
		var zero T
		return zero, false
	}
	return k.Decode(recs[id])
}

// Put stores v in recs under id, one of the kind's.
func (k Kind[T]) Put(recs map[string]*Record, id string, v T, expires time.Time) error {
	if !k.Owns(id) {
		return fmt.Errorf("state: %s id %.60q does not start with %q", k.name, id, k.prefix)
	}
	r, err := k.Encode(v, expires)
	if err != nil {
		return err
	}
	recs[id] = r
	return nil
}
