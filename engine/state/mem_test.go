package state_test

import (
	"testing"
	"time"

	"notifier/engine/state"
	"notifier/engine/state/storetest"
)

func TestMemConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) state.Store { return state.NewMem(time.Now) })
}
