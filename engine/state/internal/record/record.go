// Package record is how the bbolt and Redis stores lay out a stored
// record: an 8-byte big-endian expiry, then the data. Both use the one
// layout, so a record means the same wherever it is kept.
package record

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"notifier/engine/state"
)

// ExpiryLen is the big-endian int64 (unix nanoseconds, 0 = never) that
// starts every stored value; the record's data follows.
const ExpiryLen = 8

// Encode returns a new buffer: expiry, then a copy of the data.
func Encode(r *state.Record) []byte {
	v := make([]byte, ExpiryLen+len(r.Data))
	var exp int64
	if !r.Expires.IsZero() {
		exp = r.Expires.UnixNano()
		if r.Expires.After(time.Unix(0, math.MaxInt64)) {
			exp = math.MaxInt64
		}
		exp = max(exp, 1) // 0 means never; a time before 1970 has passed
	}
	binary.BigEndian.PutUint64(v, uint64(exp))
	copy(v[ExpiryLen:], r.Data)
	return v
}

// Live reads only the expiry of an encoded record: the bbolt sweep looks
// at hundreds per Update and must not copy them.
func Live(v []byte, now time.Time) bool {
	if len(v) < ExpiryLen {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(v))
	return exp == 0 || now.UnixNano() < exp
}

// Decode copies v out of the store's memory (bbolt's is only valid inside
// the transaction). A value too short to hold an expiry is damaged: not
// ok.
func Decode(v []byte) (*state.Record, bool) {
	if len(v) < ExpiryLen {
		return nil, false
	}
	r := &state.Record{Data: bytes.Clone(v[ExpiryLen:])}
	if exp := int64(binary.BigEndian.Uint64(v)); exp != 0 {
		r.Expires = time.Unix(0, exp)
	}
	return r, true
}
