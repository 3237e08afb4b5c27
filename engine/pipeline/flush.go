package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"notifier/channels"
	"notifier/engine/event"
	"notifier/engine/state"
)

// Flush delivers what the outbox holds, whether or not its next attempt
// is due when force (`notifier flush`; a systemd timer runs it every
// minute), after queueing what the pending directory holds. It returns
// an error, and does nothing, when the stores cannot be opened or the
// failure marks read; a state error met while flushing is the Report's
// StateErr (and needs a person).
func (p *Pipeline) Flush(ctx context.Context, force bool) (*Report, error) {
	st, err := p.Open()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	marks, err := p.failureMarks(ctx, st)
	if err != nil {
		return nil, err // nothing here can be flushed: say why
	}
	r := &Report{Marks: marks}
	marked := markedSet(marks)
	owner := p.owner()
	p.importKept(ctx, r, st, owner)
	r.NextHeld = p.releaseHeld(ctx, r, st, owner, commit, 0)
	err = p.flushOutbox(ctx, r, st, owner, force, marked, "")
	p.reportFailures(r, marks, marked)
	if err != nil {
		r.StateErr = err
		r.needs(err) // the command says it, as its error
	}
	return r, nil
}

// flushOutbox delivers what the outbox holds that this run may deliver:
// its own entries, and other entries that are due (all of them with
// force); only key's when key is not "" (KeyFlush). Chains (per key and
// channel) go in order, concurrently with each other. It counts in r
// what was delivered, queued and given up.
//
// marked names the channels with a failure mark (failureMarks): a
// delivery to one clears it, and it is removed from marked.
func (p *Pipeline) flushOutbox(ctx context.Context, r *Report, st *state.Topology, owner string, force bool, marked map[string]bool, key string) error {
	// Our own deliveries may wait behind another live run's for the same
	// key and channel (a resolve behind the trigger it is sending): wait
	// for it, briefly, rather than leave the resolve for the next run.
	wait := 20 * time.Millisecond
	for {
		d, q, f, blocked, err := p.flushRound(ctx, r, st, owner, force, marked, key)
		r.Delivered, r.Queued, r.Failed = r.Delivered+d, q, r.Failed+f
		deadline, _ := ctx.Deadline()
		if err != nil || !blocked || time.Until(deadline) < time.Second+wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// maxParallelChains bounds concurrent deliveries in one run.
const maxParallelChains = 8

// flushRound claims, delivers and settles once (key's entries only,
// unless key is ""). blocked says some of owner's own entries could not
// be claimed because another live run holds the entries before them.
func (p *Pipeline) flushRound(ctx context.Context, r *Report, st *state.Topology, owner string, force bool, marked map[string]bool, key string) (delivered, queued, failed int, blocked bool, err error) {
	now := p.now()
	found, err := st.Shared().Scan(ctx, state.OutboxPrefix)
	if key != "" {
		onlyKey(found, key)
	}
	if err != nil || len(found) == 0 {
		return 0, 0, 0, false, err
	}
	deadline, _ := ctx.Deadline()
	// Each record is decoded once, here; the Claims and Settle below
	// decode again only a record whose bytes changed since.
	dec := state.NewDecoded()
	entries := dec.Heads(found) // ownBlocked reads no message
	// Most runs find nothing they may take (another run's live lease, a
	// retry not yet due): see that on the copy Scan returned, and skip the
	// exclusive lock altogether — under a storm, every run pays it.
	preview, changed, err := dec.Claim(maps.Clone(found), owner, now, deadline, force, state.OwnerAlive)
	if err != nil {
		return 0, 0, 0, false, err
	}
	blocked = ownBlocked(entries, preview, owner, now)
	if len(preview) == 0 {
		return 0, 0, 0, blocked, nil
	}
	chains := preview
	if changed {
		// Taking over others' entries needs the lock; our own, already
		// leased to us when they were queued, do not.
		err = st.Shared().Update(ctx, slices.Sorted(maps.Keys(found)), func(recs map[string]*state.Record) error {
			var err error
			chains, _, err = dec.Claim(recs, owner, now, deadline, force, state.OwnerAlive)
			return err
		})
		if err != nil || len(chains) == 0 {
			return 0, 0, 0, blocked, err
		}
	}
	outcomes := make([][]state.Attempt, len(chains))
	var wg sync.WaitGroup
	// A backlog after an outage must not become hundreds of requests at
	// once (and a wall of 429s): a few chains at a time.
	sem := make(chan struct{}, maxParallelChains)
	for i, chain := range chains {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i] = p.deliverChain(ctx, r, chain)
		})
	}
	wg.Wait()

	settleNow := p.now()
	var ids []string
	for i, c := range chains {
		for j, e := range c {
			ids = append(ids, e.ID)
			ids = append(ids, state.SettleIDs(e, outcomes[i][j], settleNow, marked[e.Channel])...)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	refs := map[[2]string]string{}
	hist := map[string]*state.Record{}
	var later map[string]*state.Record // hist, when it goes to a store of its own
	var attempts []Delivery
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	err = st.Shared().Update(dctx, ids, func(recs map[string]*state.Record) error {
		delivered, queued, failed = 0, 0, 0
		clear(hist)
		attempts = attempts[:0]
		for i, c := range chains {
			for j, e := range c {
				o := outcomes[i][j]
				what, err := dec.Settle(recs, e, o, settleNow, owner)
				if err != nil {
					return err
				}
				switch what {
				case state.OutcomeDelivered:
					delivered++
					delete(marked, e.Channel)
					if o.Ref != "" {
						refs[[2]string{e.Key, e.Channel}] = o.Ref
					}
				case state.OutcomeQueued:
					queued++
				case state.OutcomeFailed:
					failed++
				}
				if o.Status != state.AttemptSkipped {
					attempts = append(attempts, Delivery{Key: e.Key, Channel: e.Channel, Action: e.Action, Outcome: what, Err: o.Err, Took: o.Took, RetryAfter: o.RetryAfter})
					h := state.HistoryEntry{Time: settleNow, Key: e.Key, Rule: e.Rule, Channel: e.Channel, Delivery: e.Action, Outcome: what, Attempts: e.Attempts + 1}
					if o.Err != nil {
						h.Reason = o.Err.Error()
						switch what {
						case state.OutcomeFailed:
							p.problem(r, "channel %q: %v (given up)", e.Channel, o.Err)
						case state.OutcomeSuperseded:
							p.note("channel %q: %v (another run took the delivery over)", e.Channel, o.Err)
						default:
							p.note("channel %q: %v (queued for retry)", e.Channel, o.Err)
						}
					}
					id, rec, err := h.Record()
					if err != nil {
						return err
					}
					hist[id] = rec
				}
			}
		}
		later = st.AddHistory(recs, hist)
		return nil
	})
	r.Deliveries = append(r.Deliveries, attempts...)
	if err == nil {
		p.addHistory(ctx, st, later)
	}
	if err == nil && len(refs) > 0 {
		err = p.recordRefs(ctx, st, refs)
	}
	return delivered, queued, failed, blocked, err
}

// flushKey is the key Run's flush is limited to: ev's with KeyFlush,
// else "" (all). All, too, when the decision queued deliveries about
// other keys (a group's, a rate cap's digest) or released held events:
// they are leased to this run, which must deliver them.
func (p *Pipeline) flushKey(ev *event.Event, res state.Result, released int) string {
	if !p.KeyFlush || released > 0 {
		return ""
	}
	for _, s := range res.Send {
		if s.KeyOr(ev.Key) != ev.Key {
			return ""
		}
	}
	return ev.Key
}

// onlyKey removes from found the outbox records of keys other than key,
// decoding no more of them than their key: decoding every queued
// message is what a flush costs, and each decision of a storm needs
// only its own key's. A record whose key cannot be read so is kept
// (decoded, and judged, by the caller).
func onlyKey(found map[string]*state.Record, key string) {
	for id, r := range found {
		if k, ok := entryKey(r.Data); ok && k != key {
			delete(found, id)
		}
	}
}

// entryKey reads the key of an outbox entry from its JSON without
// decoding the rest, when the record starts as json.Marshal writes a
// state.Entry: {"id":"…","key":"…",…. ok is false for anything else.
func entryKey(raw []byte) (key string, ok bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(`{"id":"`))
	if !ok {
		return "", false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return "", false // an id with an escape: not one of ours
	}
	rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"key":`))
	if !ok || len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	escaped := false
	for j := 1; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			escaped = true
			j++ // the escaped character
		case '"':
			if !escaped {
				return string(rest[1:j]), true
			}
			// Let encoding/json read the escapes.
			if err := json.Unmarshal(rest[:j+1], &key); err != nil {
				return "", false
			}
			return key, true
		}
	}
	return "", false
}

// ownBlocked reports whether one of owner's entries was left out only
// because another live run is delivering the entries before it — worth
// waiting for. Behind a failed delivery waiting for its retry it is not:
// that wait is the outbox's job. entries are the outbox entries found,
// oldest first (state.Entries).
func ownBlocked(entries []state.Entry, claimed [][]state.Entry, owner string, now time.Time) bool {
	in := map[string]bool{}
	for _, c := range claimed {
		for _, e := range c {
			in[e.ID] = true
		}
	}
	if len(in) == len(entries) {
		// Every entry found was claimed (each claimed entry is one of
		// them): none was left out. A run's usual case (its own entries,
		// nothing else queued).
		return false
	}
	busy := map[[2]string]bool{} // key and channel with an entry a live run holds
	for _, e := range entries {
		k := [2]string{e.Key, e.Channel}
		if e.LeasedByOther(owner, now, state.OwnerAlive) {
			busy[k] = true
		}
		if e.LeaseOwner == owner && !in[e.ID] && busy[k] {
			return true
		}
	}
	return false
}

// recordRefs remembers where Slack's Web API put each message, so the
// resolve updates that message.
func (p *Pipeline) recordRefs(ctx context.Context, st *state.Topology, refs map[[2]string]string) error {
	var ids []string
	for k := range refs {
		ids = append(ids, state.IncidentID(k[0]))
	}
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	return st.Shared().Update(dctx, ids, func(recs map[string]*state.Record) error {
		for k, ref := range refs {
			state.SetRef(recs, k[0], k[1], ref)
		}
		return nil
	})
}

// deliverChain sends one key's entries for one channel, in order,
// stopping at the first failure (the rest wait, in order).
func (p *Pipeline) deliverChain(ctx context.Context, r *Report, chain []state.Entry) []state.Attempt {
	out := make([]state.Attempt, len(chain))
	ch, err := p.Channel(chain[0].Channel)
	var lastRef string
	for i, e := range chain {
		if err != nil {
			// The channel cannot be built (a secret file being rewritten,
			// a channel renamed by a policy change in progress): retried
			// like any failure until the outbox gives up, never dropped
			// at once; and someone must look. The rest of the chain waits
			// behind it.
			out[i] = state.Attempt{Status: state.AttemptRetryable, Err: err}
			r.needs(fmt.Errorf("channel %q: %w", e.Channel, err))
			break
		}
		m, jerr := e.Message.Channels()
		if jerr != nil {
			out[i] = state.Attempt{Status: state.AttemptRejected, Err: fmt.Errorf("queued message unreadable: %w", jerr)}
			continue
		}
		if m.Action == channels.Resolve && m.Ref == "" {
			m.Ref = lastRef // the trigger went out just before, in this chain
		}
		began := time.Now()
		ref, _, derr := channels.DeliverRef(ctx, ch, &m, channels.DefaultBackoff)
		took := time.Since(began)
		if derr == nil {
			out[i] = state.Attempt{Status: state.AttemptDelivered, Ref: ref, Took: took}
			lastRef = ref
			continue
		}
		retry, after := channels.IsRetryable(derr)
		out[i] = state.Attempt{Status: state.AttemptRejected, Err: derr, RetryAfter: after, Uncertain: channels.MaybeAccepted(derr), Took: took}
		if retry {
			out[i].Status = state.AttemptRetryable
		}
		for j := i + 1; j < len(chain); j++ {
			out[j] = state.Attempt{} // not attempted: waits behind this one
		}
		break
	}
	return out
}
