package state

import (
	"bytes"
	"slices"
	"sync"
	"time"
)

// A storm's group is read and written whole by every decision that joins
// it, and decoding its members was most of what grouping added to a
// decision. groupMemo remembers, by record id, the last group decoded or
// encoded with the bytes it came from: a record is decoded again only when
// its bytes differ (another process changed it), so a decode is never
// trusted for bytes it was not made from. It is a cache of a pure
// function, shared by the engine's concurrent decisions.
var groupMemo = struct {
	sync.Mutex
	m map[string]memoGroup
}{m: map[string]memoGroup{}}

type memoGroup struct {
	data []byte
	g    Group
}

// maxMemoGroups bounds the memo: one entry per open group.
const maxMemoGroups = 256

// getGroup is GroupKind.Get through the memo. The Group returned is the
// caller's: its Members are a copy.
func getGroup(recs map[string]*Record, id string) (Group, bool) {
	r := recs[id]
	if r == nil || !GroupKind.Owns(id) {
		return Group{}, false
	}
	groupMemo.Lock()
	c, ok := groupMemo.m[id]
	groupMemo.Unlock()
	if ok && bytes.Equal(c.data, r.Data) {
		g := c.g
		g.Members = slices.Clone(g.Members)
		g.Deliveries = slices.Clone(g.Deliveries)
		return g, true
	}
	g, ok := GroupKind.Decode(r)
	if ok {
		remember(id, r.Data, g)
	}
	return g, ok
}

// putGroup is GroupKind.Put through the memo.
func putGroup(recs map[string]*Record, id string, g Group, expires time.Time) error {
	if err := GroupKind.Put(recs, id, g, expires); err != nil {
		return err
	}
	remember(id, recs[id].Data, g)
	return nil
}

func remember(id string, data []byte, g Group) {
	// As decoded: no monotonic clock reading, so a hit compares times as
	// a decode would.
	g.Opened, g.Sent, g.Due = g.Opened.Round(0), g.Sent.Round(0), g.Due.Round(0)
	g.Members = slices.Clone(g.Members)
	g.Deliveries = slices.Clone(g.Deliveries)
	groupMemo.Lock()
	defer groupMemo.Unlock()
	if len(groupMemo.m) >= maxMemoGroups {
		clear(groupMemo.m)
	}
	groupMemo.m[id] = memoGroup{data: bytes.Clone(data), g: g}
}
