package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/pipeline"
	"notifier/engine/state"
)

// historyCmd shows recent decisions and deliveries, and the dead letters.
func (a *app) historyCmd(args []string) error {
	fs := a.newFlags("history")
	configFlag := fs.String("config", "", configUsage)
	key := fs.String("key", "", "only this event key")
	limit := fs.Int("limit", 50, "at most this many entries")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageErr("history: --format %q: want text or json", *format)
	}
	return a.withStores(*configFlag, func(ctx context.Context, p *engine.Policy, st *state.Topology) error {
		recs, err := st.History().Scan(ctx, state.HistoryPrefix)
		if err != nil {
			return problemErr(err)
		}
		dead, err := st.Shared().Scan(ctx, state.DeadPrefix)
		if err != nil {
			return problemErr(err)
		}
		queued, err := st.Shared().Scan(ctx, state.OutboxPrefix)
		if err != nil {
			return problemErr(err)
		}
		hist := state.History(recs, *key, *limit)
		deadList, queuedList := filterEntries(state.Entries(dead), *key), filterEntries(state.Entries(queued), *key)
		marks, err := pipeline.FailureMarks(ctx, p, st.Shared())
		if err != nil {
			return problemErr(err)
		}
		if *format == "json" {
			failing := []state.Failure{}
			for _, ch := range slices.Sorted(maps.Keys(marks)) {
				failing = append(failing, marks[ch])
			}
			err = writeJSON(a.stdout, map[string]any{"history": nonNil(hist), "queued": entriesJSON(queuedList), "dead_letters": entriesJSON(deadList), "given_up_channels": failing})
		} else {
			writeHistory(a.stdout, hist, queuedList, deadList)
		}
		// Every given-up channel is said until it delivers again: exit 1.
		for _, ch := range slices.Sorted(maps.Keys(marks)) {
			fmt.Fprintf(a.stderr, "notifier: %s\n", pipeline.FailureLine(marks[ch]))
		}
		if err == nil && len(marks) > 0 {
			return problemsFound()
		}
		return err
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// entryJSON is an outbox entry as history --format json prints it: its
// message in the shape scripts have read since before the outbox kept
// its own versioned form (channels.Message's field names), so the
// storage format can change without changing this output.
type entryJSON struct {
	state.Entry
	Message any `json:"message"`
}

func entriesJSON(es []state.Entry) []entryJSON {
	out := make([]entryJSON, 0, len(es))
	for _, e := range es {
		j := entryJSON{Entry: e, Message: e.Message} // unreadable: as stored
		if m, err := e.Message.Channels(); err == nil {
			j.Message = m
		}
		out = append(out, j)
	}
	return out
}

func filterEntries(es []state.Entry, key string) []state.Entry {
	var out []state.Entry
	for _, e := range es {
		if key == "" || e.Key == key {
			out = append(out, e)
		}
	}
	return out
}

func writeHistory(out io.Writer, hist []state.HistoryEntry, queued, dead []state.Entry) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKEY\tCHANNEL\tDELIVERY\tOUTCOME\tREASON")
	for _, h := range hist {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Time.Local().Format(time.DateTime), h.Key, h.Channel, h.Delivery, h.Outcome, channels.OneLine(h.Reason))
	}
	tw.Flush()
	for _, sec := range []struct {
		title string
		list  []state.Entry
	}{{"queued", queued}, {"dead letters (given up)", dead}} {
		if len(sec.list) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s:\n", sec.title)
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		for _, e := range sec.list {
			next := ""
			if !e.NextAttempt.IsZero() {
				next = "next " + e.NextAttempt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d attempts\t%s\t%s\n", e.Created.Local().Format(time.DateTime), e.Key, e.Channel+" "+e.Action, e.Attempts, next, channels.OneLine(e.LastError))
		}
		tw.Flush()
	}
}
