package main

import (
	"context"
	"fmt"

	"notifier/engine/pipeline"
)

// flushCmd delivers what the outbox holds, whether or not its next
// attempt is due; a systemd timer runs it every minute.
func (a *app) flushCmd(args []string) error {
	fs := a.newFlags("flush")
	configFlag := fs.String("config", "", configUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return a.withState(*configFlag, func(ctx context.Context, pl *pipeline.Pipeline) error {
		r, err := pl.Flush(ctx, true)
		if err != nil {
			return problemErr(err) // nothing could be flushed: say why
		}
		fmt.Fprintf(a.stdout, "delivered %d, still queued %d, failed %d\n", r.Delivered, r.Queued, r.Failed)
		if r.StateErr != nil {
			return problemErr(r.StateErr)
		}
		return reportExit(r)
	})
}
