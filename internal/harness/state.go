package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"notifier/engine/state"
	"notifier/internal/apitest"
)

// History is what `notifier history --format json` prints.
type History struct {
	History     []state.HistoryEntry `json:"history"` // newest first
	Queued      []state.Entry        `json:"queued"`
	DeadLetters []state.Entry        `json:"dead_letters"`
	// GivenUp are the channels whose last delivery was given up, with no
	// success since.
	GivenUp []state.Failure `json:"given_up_channels"`
}

// Outcomes counts the history entries by outcome.
func (h *History) Outcomes() map[string]int {
	out := map[string]int{}
	for _, e := range h.History {
		out[string(e.Outcome)]++
	}
	return out
}

// History asks the binary for the whole history (of key, when not
// empty), the outbox and the dead letters.
func (h *Harness) History(ctx context.Context, key string) (*History, error) {
	args := []string{"history", "--format", "json", "--limit", "0"}
	if key != "" {
		args = append(args, "--key", key)
	}
	res, err := h.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	// Exit 1 with the history on stdout: it also said on stderr that a
	// channel gave a delivery up (the test reads that from Command).
	if res.Exit != 0 && (res.Exit != 1 || res.Stdout == "") {
		return nil, fmt.Errorf("history: exit %d: %s", res.Exit, res.Stderr)
	}
	var out History
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		return nil, fmt.Errorf("history: %w: %s", err, res.Stdout)
	}
	return &out, nil
}

// WithAlarmID returns a CMON plugin message (the 1.2.8 shape, as in
// examples/events/cmon) with its alarm id replaced by id, a decimal
// number: distinct ids are distinct alarms, each with its own key.
func WithAlarmID(event []byte, id string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber() // alarm ids exceed int64 and float64's precision
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil {
		return nil, fmt.Errorf("cmon message: %w", err)
	}
	alarm, ok := msg["alarm"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cmon message has no alarm object")
	}
	alarm["id"] = json.Number(id)
	return json.Marshal(msg)
}

// Accepted returns the requests PagerDuty accepted (202), in order.
func Accepted(reqs []apitest.PagerDutyRequest) []apitest.PagerDutyRequest {
	var out []apitest.PagerDutyRequest
	for _, r := range reqs {
		if r.Status == http.StatusAccepted {
			out = append(out, r)
		}
	}
	return out
}

// DescribePagerDuty lists requests one per line, for test failures: what
// arrived, what it was answered, and the event's own time and count of
// suppressed occurrences (a duplicate shows the same event time twice).
func DescribePagerDuty(reqs []apitest.PagerDutyRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  #%d HTTP %d %s %s", r.Seq, r.Status, r.Event.EventAction, r.Event.DedupKey)
		if p := r.Event.Payload; p != nil {
			fmt.Fprintf(&b, " (event time %s, suppressed before: %v)", p.Timestamp, p.CustomDetails["suppressed_since_last"])
		}
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

// DescribeEntries lists outbox entries one per line, for test failures.
func DescribeEntries(es []state.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\n  %s %s %s %s: %d attempts, lease %q, last error %q", e.ID, e.Key, e.Channel, e.Action, e.Attempts, e.LeaseOwner, e.LastError)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
