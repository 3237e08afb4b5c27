package main

import (
	"context"
	"errors"
	"time"

	"notifier/engine/drop"
	"notifier/engine/event"
)

// Sources --source accepts (engine/drop's).
const sourceAuto = drop.SourceAuto

// errIgnored means the input was understood and deliberately not acted on
// (a CMON message that is not an alarm).
var errIgnored = drop.ErrIgnored

// readInput finds the event (drop.Read): Pacemaker's variables first,
// else stdin, bounded by ctx; eventFile, if set, replaces both.
func (a *app) readInput(ctx context.Context, source, eventFile string) (*drop.Input, error) {
	in, err := drop.Read(ctx, a.stdin, a.env, source, eventFile, a.stderr)
	return in, exitErrorOf(err)
}

// decode turns the raw input into an Event. now is the receipt time.
func decode(in *drop.Input, now time.Time, cluster event.ClusterDefaults) (*event.Event, error) {
	ev, err := drop.Decode(in, now, cluster)
	return ev, exitErrorOf(err)
}

// exitErrorOf gives engine/drop's errors their exit status: usage and
// input errors are 2; being ignored is not an exit status (the caller
// says it).
func exitErrorOf(err error) error {
	var ue *drop.UsageError
	var ie *drop.InputError
	switch {
	case err == nil, errors.Is(err, errIgnored):
		return err
	case errors.As(err, &ue):
		return usageErr("%w", ue.Err)
	case errors.As(err, &ie):
		return inputErr(ie.Err)
	}
	return err
}

// inputOf is the input an engine/drop error carries, for rejected/.
func inputOf(err error) *drop.Input {
	var ie *drop.InputError
	if errors.As(err, &ie) {
		return ie.Input
	}
	return nil
}
