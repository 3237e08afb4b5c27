// Package state keeps what runs share: suppression and escalation
// windows, open incidents, silences, history and the outbox. Every run is
// a separate short-lived process (and, with Redis, possibly on another
// host), so all of it lives in a Store: the embedded bbolt file by
// default, Redis when several nodes must agree.
//
// A Store is deliberately dumb: named records read, changed and written
// back atomically. What the records mean — the decisions — is written
// once, in Go, as pure functions (decide.go), and runs the same on every
// store.
package state

import (
	"context"
	"errors"
	"time"
)

// Record is one stored document. A zero Expires means it never expires;
// stores drop expired records (bbolt prunes them inside its transactions,
// Redis gives them a TTL).
type Record struct {
	Data    []byte
	Expires time.Time
}

// Store is the shared state. Implementations must make Update atomic with
// respect to every other Update that names any of the same ids — from
// this process, other processes, and (Redis) other hosts — and must never
// hold their lock longer than the Update itself: decide, write, release;
// deliveries happen after.
type Store interface {
	// Update loads the records ids names (missing or expired ones are
	// absent from the map), calls fn, and saves the map fn leaves: changed
	// records are written, records set to nil are deleted, and fn may add
	// records under new ids (unique ids, such as history entries, need not
	// be named in ids). fn must be quick and do no I/O; if it returns an
	// error nothing is saved.
	Update(ctx context.Context, ids []string, fn func(recs map[string]*Record) error) error
	// View reads records without taking the update lock.
	View(ctx context.Context, ids []string) (map[string]*Record, error)
	// Scan reads every unexpired record whose id starts with prefix.
	Scan(ctx context.Context, prefix string) (map[string]*Record, error)
	// Close releases the store.
	Close() error
}

// DefaultBoltPath is where the embedded store lives unless
// settings.state.path says otherwise; the installer creates its directory.
const DefaultBoltPath = "/var/lib/notifier/state.db"

// ErrDamaged wraps (with ErrUnavailable) the error of a store operation
// that found the state file damaged: bbolt panicked on it (a truncated
// file, damaged data pages under intact meta pages) or both its meta
// pages fail their checksum. The file has then been moved aside, kept
// under a new name, so that the next run starts a fresh one.
var ErrDamaged = errors.New("state file damaged")

// ErrUnavailable wraps every failure to reach or use a store (permissions,
// a full disk, Redis down): the caller then delivers without state (fails
// open) and says so.
var ErrUnavailable = errors.New("state unavailable")

// Live reports whether r exists and has not expired at now.
func (r *Record) Live(now time.Time) bool {
	return r != nil && (r.Expires.IsZero() || now.Before(r.Expires))
}
