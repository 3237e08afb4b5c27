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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"notifier/bench/internal/trigger"
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
	a, err := trigger.Read(os.Stdin)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	dedup := fmt.Sprintf("cmon/%s/%d/%s", host, a.CID, a.ID)
	body := trigger.Body(strings.TrimSpace(string(key)), dedup, host, a)
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
	if err := trigger.Post(url, body); err != nil {
		return err
	}
	return commit(func(b *bolt.Bucket) error { return b.Delete([]byte(dedup)) })
}
