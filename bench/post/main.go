// Command post is the baseline of bench/state.sh: the least a program
// run once per alarm can do to page. It reads the CMON message on stdin,
// posts one Events API v2 trigger with net/http and checks the answer —
// no policy, no state, no retries.
//
//	post -url EVENTS_URL -key ROUTING_KEY [-ca CA.pem] < alarm.json
//
// With -ca it trusts only that CA (an https URL to bench/pdserver -tls);
// each run is a new process, so each event costs a full TLS handshake.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"notifier/bench/internal/trigger"
)

func main() {
	url := flag.String("url", "", "events URL (the path /v2/enqueue is appended)")
	key := flag.String("key", "", "routing key")
	ca := flag.String("ca", "", "trust only the CA certificates in this PEM file (default: the system's roots)")
	flag.Parse()
	a, err := trigger.Read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(2)
	}
	c := http.DefaultClient
	if *ca != "" {
		if c, err = trigger.Trusting(*ca); err != nil {
			fmt.Fprintln(os.Stderr, "post:", err)
			os.Exit(2)
		}
	}
	if err := trigger.PostWith(c, *url, trigger.Body(*key, fmt.Sprintf("post/%d/%s", a.CID, a.ID), "post", a)); err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(1)
	}
}
