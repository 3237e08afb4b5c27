// Command post is the baseline of bench/state.sh: the least a program
// run once per alarm can do to page. It reads the CMON message on stdin,
// posts one Events API v2 trigger with net/http and checks the answer —
// no policy, no state, no retries.
//
//	post -url EVENTS_URL -key ROUTING_KEY < alarm.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	url := flag.String("url", "", "events URL (the path /v2/enqueue is appended)")
	key := flag.String("key", "", "routing key")
	flag.Parse()
	var msg struct {
		Alarm struct {
			ID      json.Number `json:"id"`
			CID     int         `json:"cid"`
			Message string      `json:"message"`
		} `json:"alarm"`
	}
	in, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(in, &msg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(2)
	}
	body, _ := json.Marshal(map[string]any{
		"routing_key":  *key,
		"event_action": "trigger",
		"dedup_key":    fmt.Sprintf("post/%d/%s", msg.Alarm.CID, msg.Alarm.ID),
		"payload":      map[string]string{"summary": msg.Alarm.Message, "source": "post", "severity": "critical"},
	})
	resp, err := http.Post(*url+"/v2/enqueue", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "post: HTTP", resp.StatusCode)
		os.Exit(1)
	}
}
