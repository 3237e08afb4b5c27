package state

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Decoded remembers outbox entries as decoded from their records' bytes,
// so that one flush decodes each record at most once — across its Scan,
// the Claim it previews on that copy, the Claim under the lock and
// Settle — instead of three or four times: decoding queued entries was a
// tenth of the engine's CPU per alarm. A record is decoded again only
// when its bytes differ from those decoded before (another run changed
// it meanwhile): a decode is never trusted for bytes it was not made
// from. A nil *Decoded decodes every time. Not safe for concurrent use.
type Decoded struct {
	m map[string]decodedEntry
	// written is what Claim wrote, apart: Claim's preview writes to a
	// copy of the records, and the Claim under the lock then finds the
	// bytes decoded first again.
	written map[string]decodedEntry
}

// decodedEntry is what data decodes to: e, or nothing (ok false).
type decodedEntry struct {
	data []byte
	e    Entry
	ok   bool
}

// NewDecoded is an empty Decoded, for one flush.
func NewDecoded() *Decoded {
	return &Decoded{m: map[string]decodedEntry{}, written: map[string]decodedEntry{}}
}

// entry is r's entry (false when r is missing, unreadable, or has no
// ID), decoded only when r's bytes are not the ones last seen under id.
func (d *Decoded) entry(id string, r *Record) (Entry, bool) {
	if r == nil {
		return Entry{}, false
	}
	if d != nil {
		if c, ok := d.m[id]; ok && bytes.Equal(c.data, r.Data) {
			return c.e, c.ok
		}
	}
	// Not OutboxKind.Decode's prefix check: dead letters decode here too,
	// and so do the occurrence records an older version kept under "o/"
	// (they have no ID, and are skipped).
	if d == nil {
		e, ok := OutboxKind.Decode(r)
		return e, ok && e.ID != ""
	}
	e, ok := decodeHead(r)
	ok = ok && e.ID != ""
	// A copy: a store may reuse the buffer once its transaction ends.
	d.m[id] = decodedEntry{data: bytes.Clone(r.Data), e: e, ok: ok}
	return e, ok
}

// headJSON is an outbox entry with its message left as stored.
type headJSON struct {
	Entry
	Message json.RawMessage `json:"message"`
}

// decodeHead decodes r's entry but for its message, kept raw in it
// until withMessage: what is not claimed — other runs' entries, retries
// not yet due — is judged on its lease and times alone, and most of an
// entry's decoding is its message. It decodes exactly what
// OutboxKind.Decode would, false included: Message.UnmarshalJSON never
// fails (it keeps an unreadable message in the entry instead).
func decodeHead(r *Record) (Entry, bool) {
	var h headJSON
	if json.Unmarshal(r.Data, &h) != nil {
		return Entry{}, false
	}
	e := h.Entry
	e.message = h.Message // nil when the record has none: a zero Message
	return e, true
}

// withMessage is e with its message decoded, if decodeHead left it raw.
func (e Entry) withMessage() Entry {
	if e.message != nil {
		_ = e.Message.UnmarshalJSON(e.message) // never fails: see decodeHead
		e.message = nil
	}
	return e
}

// claimed remembers the record Claim wrote for e, leased to owner, so
// that Settle, finding those very bytes, need not decode them to see
// whose the entry is (the only thing it reads of it). The entry is e
// itself, not its decode: they agree on ID and lease owner, strings
// that survive JSON unchanged — unless owner is not valid UTF-8, which
// JSON would replace, and then nothing is remembered.
func (d *Decoded) claimed(e Entry, r *Record) {
	if d != nil && utf8.ValidString(e.LeaseOwner) {
		d.written[e.ID] = decodedEntry{data: r.Data, e: e, ok: e.ID != ""}
	}
}

// Heads is Entries (the outbox records' entries, oldest first), through
// d, with the messages not decoded (but by a nil d, which decodes them
// whole): Message is zero in them until Claim takes them. For seeing
// whose entries are and when they are due; never for delivering them.
func (d *Decoded) Heads(recs map[string]*Record) []Entry {
	out := make([]Entry, 0, len(recs))
	for id, r := range recs {
		if e, ok := d.entry(id, r); ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// settling is r's entry for Settle: the one Claim wrote when r is those
// very bytes, else as entry.
func (d *Decoded) settling(id string, r *Record) (Entry, bool) {
	if d != nil && r != nil {
		if c, ok := d.written[id]; ok && bytes.Equal(c.data, r.Data) {
			return c.e, c.ok
		}
	}
	return d.entry(id, r)
}

// full is e, one of d's heads, with its message decoded — once: the
// message is remembered with the head it came from (the same raw bytes,
// not merely equal ones), for a Claim under the lock after the preview.
func (d *Decoded) full(e Entry) Entry {
	raw := e.message
	if raw == nil {
		return e
	}
	e = e.withMessage()
	if d != nil {
		if c, ok := d.m[e.ID]; ok && len(c.e.message) > 0 && &c.e.message[0] == &raw[0] {
			c.e.Message, c.e.message = e.Message, nil
			d.m[e.ID] = c
		}
	}
	return e
}
