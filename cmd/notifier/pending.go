package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"notifier/engine"
	"notifier/engine/state"
)

// The pending directory, <state file>.pending/, keeps what a run that
// failed open could not deliver: the state could not be used (damaged,
// locked by a process that does not let go, unreachable), so the outbox
// could not take it. Each delivery is one file holding the outbox entry
// it would have been; the next run or flush that can use the state moves
// them into the outbox (importPending), which then retries them as any
// queued delivery. It lives beside the state file, not in it, because
// the state file is exactly what could not be used.

// pendingDir is where runs of policy p keep what they could not deliver
// without state.
func (a *app) pendingDir(p *engine.Policy) string { return a.statePath(p) + ".pending" }

// keepPending writes each delivery of ds (not delivered by a run that
// failed open) to the pending directory, durably: temporary file, fsync,
// rename, fsync of the directory. It returns the directory.
func (a *app) keepPending(p *engine.Policy, ev *engine.Event, ds []engine.Delivery) (string, error) {
	dir := a.pendingDir(p)
	if err := engine.MkdirShared(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	now := time.Now()
	for _, d := range ds {
		msg, err := json.Marshal(messageFor(ev, d, 0, ""))
		if err != nil {
			return "", err
		}
		e := state.Entry{ID: state.NewEntryID(now), Key: ev.Key, Channel: d.Channel, Type: d.Type, Action: d.Action,
			Rule: d.Rule, Reason: "kept while the state was unusable", Message: msg, Created: now}
		now = now.Add(time.Nanosecond) // ids keep the plan's order
		data, err := json.Marshal(e)
		if err != nil {
			return "", err
		}
		name := strings.TrimPrefix(e.ID, state.OutboxPrefix) + ".json"
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := writeSynced(tmp, data); err != nil {
			os.Remove(tmp)
			return "", err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			os.Remove(tmp)
			return "", err
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return dir, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o660)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// importPending moves what the pending directory holds into the outbox,
// in one Update of the shared store, leased to owner until the run's
// deadline, then removes the files. Under the lock it skips files
// another run imported already (the file is gone, or its entry is in the
// outbox); the lease keeps other runs from delivering an entry before
// its file is removed, so an entry is never queued twice.
func (a *app) importPending(ctx context.Context, p *engine.Policy, st *stores, owner string) error {
	dir := a.pendingDir(p)
	list, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pending deliveries %s: %w", dir, err)
	}
	var ids, names []string
	for _, de := range list {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		ids = append(ids, state.OutboxPrefix+strings.TrimSuffix(name, ".json"))
		names = append(names, name)
	}
	if len(ids) == 0 {
		return nil
	}
	deadline, _ := ctx.Deadline()
	var imported []string
	err = st.shared.Update(ctx, ids, func(recs map[string]*state.Record) error {
		imported = imported[:0]
		for i, id := range ids {
			if recs[id] != nil {
				imported = append(imported, names[i]) // queued by another run: only the file is left
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, names[i]))
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
			if err != nil {
				fmt.Fprintf(a.stderr, "notifier: pending delivery %s: %v (left where it is)\n", filepath.Join(dir, names[i]), err)
				a.attention.Store(true)
				continue
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
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(a.stderr, "notifier: pending delivery %s: queued, but the file could not be removed: %v\n", filepath.Join(dir, name), err)
			a.attention.Store(true)
		}
	}
	return nil
}
