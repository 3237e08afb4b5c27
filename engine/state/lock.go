package state

import (
	"context"
	"time"
)

// MaxLockWait bounds how long a run waits for the state lock (the bbolt
// file's flock, and Redis's per-id locks) while nothing happens: Updates
// hold it for milliseconds, so a holder that lets nothing change for this
// long is stuck (a stopped process, a backup script holding the lock
// file) and the run fails open, with most of its deadline left to
// deliver. While the state file keeps changing (a storm of hundreds of
// runs taking turns) a run waits longer, up to LockWaitLimit.
const MaxLockWait = 5 * time.Second

// DetachedWait bounds the work a run does on the state after its own
// deadline may have passed: recording what it delivered (settle, history,
// Slack references) and moving a damaged file aside. Such work must not
// be cut short by the run's deadline, nor wait without bound: Pacemaker
// kills the agent's process group at its alert timeout.
const DetachedWait = 5 * time.Second

// Detached is ctx without its cancellation and deadline, bounded by
// DetachedWait instead: a lock wait there gives up after at most half of
// it (LockWaitLimit).
func Detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), DetachedWait)
}

// LockWait is how long one lock wait may last with no progress:
// MaxLockWait, and at most a quarter of what is left before ctx's
// deadline, so that a run that waited in vain still has three quarters
// of its time to deliver.
func LockWait(ctx context.Context) time.Duration {
	w := MaxLockWait
	if d, ok := ctx.Deadline(); ok {
		w = min(w, time.Until(d)/4)
	}
	return w
}

// LockWaitLimit bounds a wait even while others make progress: half of
// what is left before ctx's deadline, or four times MaxLockWait without
// one (the settling of deliveries already made).
func LockWaitLimit(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) / 2
	}
	return 4 * MaxLockWait
}
