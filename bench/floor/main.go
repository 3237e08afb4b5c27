// Command floor is the least a program run once per alarm can do while
// keeping the promise notifier keeps: record the delivery durably before
// it is attempted and record its outcome after — and nothing else. It
// reads the CMON message on stdin, takes the state file's lock, commits
// an outbox record (bbolt, fsync on), posts one Events API v2 trigger
// with net/http, and commits the record's removal. No policy, no
// suppression, no retries. bench/state.sh -floor times it in notifier's
// place: the gap between it and bench/post is the price of durability
// alone, which no policy engine can undercut.
//
// It reads what bench/state gives notifier: NOTIFIER_CONFIG names the
// policy, whose directory holds state.db and pd.key, and whose events_url
// line names the endpoint.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	policy := os.Getenv("NOTIFIER_CONFIG")
	dir := filepath.Dir(policy)
	text, err := os.ReadFile(policy)
	if err != nil {
		return err
	}
	_, rest, _ := strings.Cut(string(text), "events_url: \"")
	url, _, _ := strings.Cut(rest, "\"")
	key, err := os.ReadFile(filepath.Join(dir, "pd.key"))
	if err != nil {
		return err
	}
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
		return err
	}
	host, _ := os.Hostname()
	dedup := fmt.Sprintf("cmon/%s/%d/%s", host, msg.Alarm.CID, msg.Alarm.ID)
	body, _ := json.Marshal(map[string]any{
		"routing_key": strings.TrimSpace(string(key)), "event_action": "trigger", "dedup_key": dedup,
		"payload": map[string]string{"summary": msg.Alarm.Message, "source": host, "severity": "critical"},
	})
	state := filepath.Join(dir, "floor.db")
	commit := func(fn func(b *bolt.Bucket) error) error {
		lock, err := os.OpenFile(state+".lock", os.O_RDWR|os.O_CREATE, 0o660)
		if err != nil {
			return err
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			return err
		}
		db, err := bolt.Open(state, 0o660, nil)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("outbox"))
			if err != nil {
				return err
			}
			return fn(b)
		})
	}
	if err := commit(func(b *bolt.Bucket) error { return b.Put([]byte(dedup), body) }); err != nil {
		return err
	}
	resp, err := http.Post(url+"/v2/enqueue", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return commit(func(b *bolt.Bucket) error { return b.Delete([]byte(dedup)) })
}
