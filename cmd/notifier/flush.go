package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"notifier/engine/drop"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// flushCmd decides what the spool holds for its policy (entries no
// engine or invocation decided), then delivers what the outbox holds,
// whether or not its next attempt is due; a systemd timer runs it every
// minute.
func (a *app) flushCmd(args []string) error {
	fs := a.newFlags("flush")
	configFlag := fs.String("config", "", configUsage)
	spoolFlag := fs.String("spool", "", spoolUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := drop.SpoolDir(*spoolFlag, a.env)
	defer a.observe(dir).finish(true)
	spooled, spoolErr := a.drainSpool(a.configPath(*configFlag), dir)
	err := a.withState(*configFlag, func(ctx context.Context, pl *pipeline.Pipeline) error {
		r, err := pl.Flush(ctx, true)
		a.obs.decision(nil, r)
		if err != nil {
			return problemErr(err) // nothing could be flushed: say why
		}
		// What the spooled events' runs delivered counts too; what they
		// left queued, this flush has just tried again.
		fmt.Fprintf(a.stdout, "delivered %d, still queued %d, failed %d\n", r.Delivered+spooled.Delivered, r.Queued, r.Failed+spooled.Failed)
		if r.StateErr != nil {
			return problemErr(r.StateErr)
		}
		return reportExit(r)
	})
	if err != nil {
		return err
	}
	return spoolErr
}

// drainSpool claims and decides, oldest first, the entries of the spool
// at dir for this policy path and $NOTIFIER_STATE_PATH: those in new/
// and those a dead claimer left in claimed/ (Takeover). Entries for
// other policies or state paths are left (given back to new/ when taken
// over) and counted in one line. A spool that does not exist holds
// nothing. Each entry is decided as run decides it, its deadline counting
// from now (an entry left behind is older than any deadline).
// The counts returned are the deliveries the entries' runs made.
func (a *app) drainSpool(path, dir string) (counts spoolCounts, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return counts, nil
	}
	s, err := spool.Open(dir)
	if err != nil {
		return counts, problemErr(err)
	}
	defer s.Close()
	owner := state.NewOwner()
	var mine []*spool.Claimed
	foreign := 0
	ids, err := s.List()
	if err != nil {
		return counts, problemErr(err)
	}
	for _, id := range ids {
		e, err := s.Peek(id)
		if errors.Is(err, spool.ErrTaken) {
			continue
		}
		if err == nil && !a.ours(path, &e) {
			foreign++
			continue
		}
		// An unreadable entry is claimed too: Claim moves it to bad/.
		c, err := s.Claim(id, owner)
		if errors.Is(err, spool.ErrTaken) {
			continue
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "notifier: %v\n", err)
			continue
		}
		mine = append(mine, c)
	}
	taken, err := s.Takeover(state.OwnerAlive, owner)
	if err != nil {
		fmt.Fprintf(a.stderr, "notifier: %v\n", err)
	}
	for _, c := range taken {
		if a.ours(path, &c.Entry) {
			mine = append(mine, c)
			continue
		}
		foreign++
		if err := s.Release(c); err != nil {
			fmt.Fprintf(a.stderr, "notifier: %v\n", err)
		}
	}
	if foreign > 0 {
		fmt.Fprintf(a.stderr, "notifier: spool %s: %d entries for other policies or state paths left for their own notifier flush\n", dir, foreign)
	}
	if len(mine) == 0 {
		return counts, nil
	}
	slices.SortFunc(mine, func(x, y *spool.Claimed) int { return strings.Compare(x.Entry.ID, y.Entry.ID) })
	l := a.load(path)
	defer l.w.close()
	failed := false
	for _, c := range mine {
		// decideEntry closes the wiring it is given: each entry gets its
		// own view of the one loaded policy.
		one := *l
		one.w = &wiring{w: l.w.w.Fork()}
		err := a.decideEntry(&one, &c.Entry, s, c, time.Now())
		if err != nil && exitCode(err, a.stderr) != exitOK {
			failed = true
		}
		if one.report != nil {
			counts.Delivered += one.report.Delivered
			counts.Failed += one.report.Failed
		}
	}
	fmt.Fprintf(a.stderr, "notifier: spool %s: decided %d spooled event(s)\n", dir, len(mine))
	if failed {
		return counts, problemsFound()
	}
	return counts, nil
}

// spoolCounts are the deliveries flush's spooled runs made.
type spoolCounts struct{ Delivered, Failed int }
