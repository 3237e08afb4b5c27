package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
	"notifier/internal/safedir"
)

// The pending directory, <state file>.pending/, keeps what a run that
// failed open could not deliver: the state could not be used (damaged,
// locked by a process that does not let go, unreachable), so the outbox
// could not take it. Each delivery is one file holding the outbox entry
// it would have been; the next run or flush that can use the state moves
// them into the outbox (importPending), which then retries them as any
// queued delivery. It lives beside the state file, not in it, because
// the state file is exactly what could not be used.

// PendingDir is where runs keep what they could not deliver without
// state, beside the state file at statePath.
func PendingDir(statePath string) string { return statePath + ".pending" }

// keepPending writes each delivery of ds to the pending directory,
// durably: temporary file, fsync, rename, fsync of the directory. A run
// that fails open keeps them before it delivers (a run killed while it
// delivers has kept them) and removes each one delivered (dropPending).
// It returns the directory and the file of each delivery. msgs[i] is
// ds[i]'s message, its templates rendered.
func (p *Pipeline) keepPending(ev *event.Event, ds []engine.Delivery, msgs []*channels.Message) (string, []string, error) {
	dir, err := safedir.Open(PendingDir(p.StatePath), true)
	if err != nil {
		return "", nil, err
	}
	defer dir.Close()
	now := p.now()
	var names []string
	for i, d := range ds {
		msg := state.MessageOf(*msgs[i])
		e := state.Entry{ID: state.NewEntryID(now), Key: ev.Key, Channel: d.Channel, Type: d.Type, Action: d.Action,
			Rule: d.Rule, Reason: "kept while the state was unusable", Message: msg, Created: now}
		now = now.Add(time.Nanosecond) // ids keep the plan's order
		data, err := json.Marshal(e)
		if err != nil {
			return "", nil, err
		}
		name := strings.TrimPrefix(e.ID, state.OutboxPrefix) + ".json"
		tmp := "." + name + ".tmp"
		if err := dir.Create(tmp, data, 0o660, true); err != nil {
			return "", nil, err
		}
		if err := dir.Rename(tmp, name); err != nil {
			dir.Remove(tmp)
			return "", nil, err
		}
		names = append(names, name)
	}
	if err := dir.Sync(); err != nil {
		return "", nil, err
	}
	return dir.Path, names, nil
}

// dropPending removes the pending files of deliveries that were made. A
// file another run imported already is gone: nothing to do.
func (p *Pipeline) dropPending(names []string) error {
	dir, err := safedir.Open(PendingDir(p.StatePath), false)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, name := range names {
		if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return dir.Sync()
}

// importKept imports what the pending directory holds (importPending),
// best effort: what cannot be imported stays for the next run, and the
// run goes on with its own deliveries. A run imports before it decides,
// so that the remove of an alarm whose trigger was kept resolves it.
func (p *Pipeline) importKept(ctx context.Context, r *Report, st *state.Topology, owner string) {
	if err := p.importPending(ctx, r, st, owner); err != nil {
		p.problem(r, "%w (left for the next run)", err)
	}
}

// importPending moves what the pending directory holds into the outbox,
// in one Update of the shared store, leased to owner until the run's
// deadline, then removes the files. Under the lock it skips files
// another run imported already (the file is gone, or its entry is in the
// outbox); the lease keeps other runs from delivering an entry before
// its file is removed, so an entry is never queued twice.
func (p *Pipeline) importPending(ctx context.Context, r *Report, st *state.Topology, owner string) error {
	dir, err := safedir.Open(PendingDir(p.StatePath), false)
	if safedir.IsNotExist(err) { // the usual case: nothing was ever kept
		return nil
	}
	if err != nil {
		return fmt.Errorf("pending deliveries: %w", err)
	}
	defer dir.Close()
	list, err := dir.Names()
	if err != nil {
		return fmt.Errorf("pending deliveries: %w", err)
	}
	slices.Sort(list) // ids, so names, sort in the order they were kept
	var ids, names []string
	for _, name := range list {
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		ids = append(ids, state.OutboxPrefix+strings.TrimSuffix(name, ".json"))
		names = append(names, name)
	}
	if len(ids) == 0 {
		return nil
	}
	// An imported delivery opens its key's incident, as a queued one
	// does, so the key's remove resolves it: the incidents are read once
	// before the lock to know which to lock.
	lockIDs, incidents := slices.Clone(ids), map[string]bool{}
	for _, name := range names {
		var e state.Entry
		if data, err := dir.Read(name); err == nil && json.Unmarshal(data, &e) == nil && e.Key != "" {
			if id := state.IncidentID(e.Key); !incidents[id] {
				incidents[id] = true
				lockIDs = append(lockIDs, id)
			}
		}
	}
	policy, now := p.policyID(st), p.now()
	deadline, _ := ctx.Deadline()
	var imported []string
	err = st.Shared().Update(ctx, lockIDs, func(recs map[string]*state.Record) error {
		imported = imported[:0]
		for i, id := range ids {
			if recs[id] != nil {
				imported = append(imported, names[i]) // queued by another run: only the file is left
				continue
			}
			data, err := dir.Read(names[i])
			if errors.Is(err, fs.ErrNotExist) {
				continue // imported and removed by another run
			}
			var e state.Entry
			if err == nil {
				err = json.Unmarshal(data, &e)
			}
			if err == nil && e.ID != id {
				err = fmt.Errorf("holds entry %q", e.ID)
			}
			if err == nil && e.Action != engine.DeliverResolve && !incidents[state.IncidentID(e.Key)] {
				err = errors.New("changed while it was imported")
			}
			if err != nil {
				p.problem(r, "pending delivery %s: %w (left where it is)", dir.Join(names[i]), err)
				continue
			}
			if e.Action != engine.DeliverResolve {
				send := []state.Planned{{Delivery: engine.Delivery{Channel: e.Channel, Type: e.Type, Action: e.Action, Rule: e.Rule}}}
				if err := state.Tell(recs, e.Key, send, now, policy); err != nil {
					return err
				}
				// What a dead letter undoes: the channel added to the
				// incident, and its count of queued notifications there.
				op := send[0].Opened
				if e.Opened != nil {
					was := *e.Opened
					was.Incident = was.Incident || op.Incident
					was.Counted = op.Counted
					op = was
				}
				e.Opened = &op
			}
			e.LeaseOwner, e.LeasedUntil = owner, deadline
			r, err := e.Record()
			if err != nil {
				return err
			}
			recs[id] = r
			imported = append(imported, names[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range imported {
		if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.problem(r, "pending delivery %s: queued, but the file could not be removed: %w", dir.Join(name), err)
		}
	}
	return nil
}
