// Package keys bounds identifiers built from what an alarm source sent
// (an alarm id, a node name): PagerDuty's dedup_key and the state's
// record ids use the same function, so a key is shortened one way only.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// hashLen is the length of what Bound appends: "~" and the SHA-256 of
// the whole key in hex.
const hashLen = 1 + 2*sha256.Size

// MinBound is the smallest limit Bound honours: room for the hash and at
// least one byte of the key.
const MinBound = hashLen + 1

// Bound returns key as it is when it is at most limit bytes long. A
// longer key keeps its first limit-65 bytes (cut at a character boundary), then
// "~" and the SHA-256 of the whole key in hex: stable, so the same key
// always finds the same alert or record; still readable; and distinct
// for keys that share the prefix. A limit below MinBound is taken as
// MinBound.
func Bound(key string, limit int) string {
	if len(key) <= limit {
		return key
	}
	cut := max(limit, MinBound) - hashLen
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(key))
	return key[:cut] + "~" + hex.EncodeToString(sum[:])
}
