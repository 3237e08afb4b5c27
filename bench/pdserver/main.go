// Command pdserver is the PagerDuty Events API v2 endpoint of
// bench/state.sh: internal/apitest's server — the same one the
// end-to-end tests use, answering as events.pagerduty.com does — in a
// process of its own, so that serving the benchmark's requests is not
// charged to the program that measures them.
//
// It prints one line, "EVENTS_URL STATS_URL", and serves until its stdin
// is closed. GET STATS_URL answers with what arrived so far (see stats).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"notifier/internal/apitest"
)

// stats is the answer to GET STATS_URL.
type stats struct {
	Requests int            `json:"requests"`
	ByStatus map[int]int    `json:"by_status"`
	Accepted map[string]int `json:"accepted"` // accepted triggers per dedup_key
}

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pdserver:", err)
		os.Exit(1)
	}
	pd := apitest.NewPagerDutyServer(ln)
	defer pd.Close()
	statsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pdserver:", err)
		os.Exit(1)
	}
	go http.Serve(statsLn, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := stats{ByStatus: map[int]int{}, Accepted: map[string]int{}}
		for _, r := range pd.Events() {
			s.Requests++
			s.ByStatus[r.Status]++
			if r.Status == http.StatusAccepted && r.Event.EventAction == "trigger" {
				s.Accepted[r.Event.DedupKey]++
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	}))
	fmt.Printf("%s http://%s/stats\n", pd.URL(), statsLn.Addr())
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
}
