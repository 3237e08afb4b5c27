package state

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// HistoryTTL is how long history entries (HistoryKind) are kept.
const HistoryTTL = 7 * 24 * time.Hour

// HistoryEntry is one line of `notifier history`: a decision about a
// channel, or what became of a delivery.
type HistoryEntry struct {
	Time      time.Time `json:"time"`
	Key       string    `json:"key"`
	Source    string    `json:"source,omitempty"`
	EventType string    `json:"event_type,omitempty"`
	Severity  string    `json:"severity,omitempty"`
	Action    string    `json:"action,omitempty"` // the event's
	Rule      string    `json:"rule,omitempty"`
	Channel   string    `json:"channel,omitempty"`
	Delivery  string    `json:"delivery,omitempty"` // trigger | resolve | message
	Outcome   Outcome   `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
}

// Record stores h under a new id that sorts by time.
func (h HistoryEntry) Record() (string, *Record, error) {
	var b [4]byte
	rand.Read(b[:])
	id := HistoryKind.ID(fmt.Sprintf("%020d-%s", h.Time.UnixNano(), hex.EncodeToString(b[:])))
	r, err := HistoryKind.Encode(h, h.Time.Add(HistoryTTL))
	return id, r, err
}

// History decodes history records, newest first, keeping those for key
// (all when key is "") up to limit (all when 0).
func History(recs map[string]*Record, key string, limit int) []HistoryEntry {
	var out []HistoryEntry
	for _, r := range recs {
		if h, ok := HistoryKind.Decode(r); ok && (key == "" || h.Key == key) {
			out = append(out, h)
		}
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return b.Time.Compare(a.Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
