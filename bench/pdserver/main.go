// Command pdserver is the PagerDuty Events API v2 endpoint of
// bench/state.sh: internal/apitest's server — the same one the
// end-to-end tests use, answering as events.pagerduty.com does — in a
// process of its own, so that serving the benchmark's requests is not
// charged to the program that measures them.
//
//	pdserver [-tls -ca-out FILE [-no-h2]] [-latency DURATION] [ADDR]
//
// With -tls it serves HTTPS with a certificate made at start for
// 127.0.0.1, ::1 and localhost, signed by a CA (ECDSA P-256) it writes as
// PEM to the -ca-out file for clients to trust; HTTP/2 and HTTP/1.1 are
// both offered. With -latency each enqueue request is answered that long
// after it arrived, as a distant endpoint would, without holding others.
//
// It prints one line, "EVENTS_URL STATS_URL", and serves until its stdin
// is closed. GET STATS_URL (plain HTTP) answers with what arrived so far
// (see stats).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// stats is the answer to GET STATS_URL.
type stats struct {
	Requests int            `json:"requests"`
	ByStatus map[int]int    `json:"by_status"`
	Accepted map[string]int `json:"accepted"` // accepted triggers per dedup_key
	// AcceptedAt is when each dedup_key's first trigger was answered
	// 202, in Unix nanoseconds of this machine's clock.
	AcceptedAt map[string]int64 `json:"accepted_at"`
	Conns      int              `json:"conns"`       // connections accepted; with TLS, each a full handshake
	Protos     map[string]int   `json:"protos"`      // enqueue requests per HTTP version ("HTTP/2.0")
	MinHeldNS  int64            `json:"min_held_ns"` // shortest time from an enqueue request's arrival to its answer
}

func main() {
	var o options
	flag.BoolVar(&o.tls, "tls", false, "serve HTTPS with a certificate made at start (needs -ca-out)")
	flag.StringVar(&o.caOut, "ca-out", "", "with -tls: write the CA certificate (PEM) clients must trust to this file")
	flag.BoolVar(&o.noH2, "no-h2", false, "with -tls: offer HTTP/1.1 only")
	flag.DurationVar(&o.latency, "latency", 0, "answer each enqueue request this long after it arrived")
	flag.Parse()
	if o.tls && o.caOut == "" {
		fail("-tls needs -ca-out FILE")
	}
	addr := "127.0.0.1:0"
	if flag.NArg() > 0 {
		addr = flag.Arg(0)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err.Error())
	}
	s, err := newServer(ln, o)
	if err != nil {
		fail(err.Error())
	}
	defer s.close()
	go s.serve()
	statsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	go http.Serve(statsLn, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.stats())
	}))
	fmt.Printf("%s http://%s/stats\n", s.url, statsLn.Addr())
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "pdserver:", msg)
	os.Exit(1)
}

// stats is what arrived so far.
func (s *server) stats() stats {
	st := stats{ByStatus: map[int]int{}, Accepted: map[string]int{}, AcceptedAt: map[string]int64{}, Protos: map[string]int{}}
	for _, r := range s.pd.Events() {
		st.Requests++
		st.ByStatus[r.Status]++
		if r.Status == http.StatusAccepted && r.Event.EventAction == "trigger" {
			st.Accepted[r.Event.DedupKey]++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.firstAt {
		st.AcceptedAt[k] = t.UnixNano()
	}
	for p, n := range s.protos {
		st.Protos[p] = n
	}
	st.Conns, st.MinHeldNS = s.conns, int64(s.minHeld/time.Nanosecond)
	return st
}
