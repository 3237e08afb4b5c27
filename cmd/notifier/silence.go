package main

import (
	"context"
	"fmt"
	"maps"
	"notifier/channels"
	"notifier/engine"
	"notifier/engine/state"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// silenceCmd: add, list, expire.
const silenceUsage = `usage: notifier silence add --match EXPR --for DUR --comment TEXT [--author NAME] [--config P]
       notifier silence list [--all] [--format text|json] [--config P]
       notifier silence expire ID [--config P]
`

func (a *app) silenceCmd(args []string) error {
	if len(args) == 0 {
		return usageErr("silence: want add, list or expire")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, silenceUsage)
		return nil
	}
	fs := a.newFlags("silence " + sub)
	configFlag := fs.String("config", "", configUsage)
	switch sub {
	case "add":
		match := fs.String("match", "", "expression over the event, like `cluster == \"prod\" && severity == \"warning\"`")
		dur := fs.Duration("for", 0, "how long, like 2h")
		comment := fs.String("comment", "", "why (required)")
		author := fs.String("author", channels.FirstNonEmpty(a.env["SUDO_USER"], a.env["USER"], a.env["LOGNAME"]), "who")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		switch {
		case strings.TrimSpace(*match) == "":
			return usageErr("silence add: --match is required")
		case *dur <= 0:
			return usageErr("silence add: --for must be a duration above 0, like 2h")
		case strings.TrimSpace(*comment) == "":
			return usageErr("silence add: --comment is required: say why, for whoever is on call next")
		}
		return a.withStores(*configFlag, func(ctx context.Context, p *engine.Policy, st *state.Topology) error {
			if _, ps := p.LintMatch("--match", *match); len(ps.Errors()) > 0 {
				var lines []string
				for _, e := range ps.Errors() {
					lines = append(lines, e.Error())
				}
				return usageErr("%s", strings.Join(lines, "\n"))
			}
			now := time.Now()
			s := state.Silence{ID: state.NewSilenceID(), Match: *match, Author: *author, Comment: *comment, Created: now, Expires: now.Add(*dur)}
			id, r, err := s.Record()
			if err != nil {
				return err
			}
			if err := st.Shared().Update(ctx, []string{id}, func(recs map[string]*state.Record) error { recs[id] = r; return nil }); err != nil {
				return problemErr(err)
			}
			fmt.Fprintln(a.stdout, s.ID)
			return nil
		})
	case "list":
		all := fs.Bool("all", false, "include expired silences (kept for a day)")
		format := fs.String("format", "text", "text or json")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		return a.withStores(*configFlag, func(ctx context.Context, _ *engine.Policy, st *state.Topology) error {
			recs, err := st.Shared().Scan(ctx, state.SilencePrefix)
			if err != nil {
				return problemErr(err)
			}
			now := time.Now()
			var list []state.Silence
			for _, s := range state.Silences(recs) {
				if *all || s.Active(now) {
					list = append(list, s)
				}
			}
			if *format == "json" {
				if list == nil {
					list = []state.Silence{}
				}
				return writeJSON(a.stdout, list)
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEXPIRES\tAUTHOR\tMATCH\tCOMMENT")
			for _, s := range list {
				exp := s.Expires.Local().Format(time.RFC3339)
				if !s.Active(now) {
					exp += " (expired)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, exp, s.Author, s.Match, s.Comment)
			}
			return tw.Flush()
		})
	case "expire":
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), "usage: notifier silence expire ID [--config P]\n\nID is a silence's id, as silence list shows it.\n\n")
			fs.PrintDefaults()
		}
		// Flags may come before or after the id: `silence expire s-1 --config x`.
		ids, err := parseFlagsArgs(fs, args)
		if err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] == "" {
			return usageErr("silence expire: want one silence id")
		}
		silenceID := ids[0]
		id := state.SilenceID(silenceID)
		return a.withStores(*configFlag, func(ctx context.Context, _ *engine.Policy, st *state.Topology) error {
			var found *state.Silence
			expired := false
			err := st.Shared().Update(ctx, []string{id}, func(recs map[string]*state.Record) error {
				r := recs[id]
				if r == nil {
					return nil // no such silence (or expired more than a day ago)
				}
				list := state.Silences(map[string]*state.Record{id: r})
				if len(list) == 0 {
					return nil
				}
				s := list[0]
				found = &s
				if now := time.Now(); s.Expires.After(now) {
					s.Expires = now
				} else {
					expired = true
					return nil // nothing to change
				}
				_, r, err := s.Record()
				recs[id] = r
				return err
			})
			if err != nil {
				return problemErr(err)
			}
			if found == nil {
				return problemErr(fmt.Errorf("silence expire: no silence %q (silence list --all shows those that exist, and those expired in the last day)", silenceID))
			}
			if expired {
				fmt.Fprintf(a.stdout, "%s had already expired at %s\n", silenceID, found.Expires.Local().Format(time.RFC3339))
				return nil
			}
			fmt.Fprintf(a.stdout, "expired %s\n", silenceID)
			// What it held and is still open is told now, not at its
			// old end: by the engine, or the next run or flush.
			held, err := st.Shared().Scan(ctx, state.HeldPrefix)
			if err != nil || len(held) == 0 {
				return nil
			}
			ids := append(slices.Sorted(maps.Keys(held)), state.DueID())
			n := 0
			err = st.Shared().Update(ctx, ids, func(recs map[string]*state.Record) error {
				n = state.EndSilence(recs, silenceID, time.Now())
				return nil
			})
			if err != nil {
				return problemErr(fmt.Errorf("silence expire: what %s held is told at its old end (%v)", silenceID, err))
			}
			if n > 0 {
				fmt.Fprintf(a.stdout, "%d held alert(s) it silenced are told now (by the engine, or the next run or flush)\n", n)
			}
			return nil
		})
	}
	return usageErr("silence: unknown subcommand %q (want add, list or expire)", sub)
}
