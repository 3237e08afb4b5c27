package state

import (
	"fmt"

	"notifier/internal/keys"
)

// MaxIDLen bounds every record id. Ids are built from what an alarm
// source sent — a 40 000-digit CMON alarm id, a node name of 100 KB —
// and bbolt refuses keys over 32 KiB: an unbounded id made every state
// operation on such a key fail, so every repeat paged again and its
// recovery never resolved. Longer ids are bounded by keys.Bound, the
// function that bounds PagerDuty's dedup_key: their first 190 bytes,
// "~" and the SHA-256 of the whole id, stable, so the recovery finds the
// incident its problem opened. Redis takes long keys, but is bounded the
// same way, so the stores agree on every id.
const MaxIDLen = 255

// boundID is id as the stores keep it.
func boundID(id string) string { return keys.Bound(id, MaxIDLen) }

// CheckIDs is what every store checks before writing the records an
// Update's fn left (nil ones are deleted and need no check): an id over
// MaxIDLen is a caller that did not build it with the functions here (a
// bug), not an unavailable store.
func CheckIDs(recs map[string]*Record) error {
	for id, r := range recs {
		if r != nil {
			if err := checkID(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkID(id string) error {
	if len(id) > MaxIDLen {
		return fmt.Errorf("state: record id %.60q... is %d bytes, over the bound of %d (ids must be made by the state package's id functions)", id, len(id), MaxIDLen)
	}
	return nil
}
