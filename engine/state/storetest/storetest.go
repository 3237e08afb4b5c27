// Package storetest is the conformance suite every state.Store passes:
// the in-memory, bbolt and Redis stores run the same tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"notifier/engine/state"
)

// Run tests the store that open returns; each subtest gets a fresh one.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	put := func(t *testing.T, s state.Store, id string, r *state.Record) {
		t.Helper()
		if err := s.Update(ctx, []string{id}, func(m map[string]*state.Record) error { m[id] = r; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, s state.Store, id string) *state.Record {
		t.Helper()
		m, err := s.View(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		return m[id]
	}

	t.Run("long keys", func(t *testing.T) { longKeys(t, open) })
	t.Run("records of the previous version", func(t *testing.T) { upgrade(t, open) })
	t.Run("an alert's identity by the other hash", func(t *testing.T) { formerOccurrence(t, open) })
	t.Run("a spool entry is decided once", func(t *testing.T) { decidedEntries(t, open) })

	t.Run("write read delete", func(t *testing.T) {
		s := open(t)
		data := []byte("{\"a\":1}\x00\xff binary")
		put(t, s, "w/rule/key", &state.Record{Data: data})
		data[0] = 'X' // the store must have copied it
		if r := get(t, s, "w/rule/key"); r == nil || !bytes.Equal(r.Data, []byte("{\"a\":1}\x00\xff binary")) {
			t.Fatalf("read back %+v", r)
		}
		put(t, s, "w/rule/key", nil)
		if r := get(t, s, "w/rule/key"); r != nil {
			t.Fatalf("nil did not delete: %+v", r)
		}
		put(t, s, "i/x", &state.Record{Data: []byte("1")})
		s.Update(ctx, []string{"i/x"}, func(m map[string]*state.Record) error { delete(m, "i/x"); return nil })
		if r := get(t, s, "i/x"); r != nil {
			t.Fatalf("delete from the map did not delete: %+v", r)
		}
	})

	t.Run("missing ids are absent", func(t *testing.T) {
		s := open(t)
		err := s.Update(ctx, []string{"nope"}, func(m map[string]*state.Record) error {
			if _, ok := m["nope"]; ok || len(m) != 0 {
				return fmt.Errorf("map = %v", m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("error saves nothing", func(t *testing.T) {
		s := open(t)
		put(t, s, "k", &state.Record{Data: []byte("old")})
		boom := errors.New("boom")
		err := s.Update(ctx, []string{"k"}, func(m map[string]*state.Record) error {
			m["k"] = &state.Record{Data: []byte("new")}
			m["other"] = &state.Record{Data: []byte("x")}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if r := get(t, s, "k"); r == nil || string(r.Data) != "old" {
			t.Fatalf("k = %+v after a failed update", r)
		}
		if r := get(t, s, "other"); r != nil {
			t.Fatalf("other written by a failed update")
		}
	})

	t.Run("new ids and scan", func(t *testing.T) {
		s := open(t)
		err := s.Update(ctx, []string{"w/a"}, func(m map[string]*state.Record) error {
			m["w/a"] = &state.Record{Data: []byte("a")}
			m["h/0001"] = &state.Record{Data: []byte("h1")}
			m["h/0002"] = &state.Record{Data: []byte("h2")}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Scan(ctx, "h/")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got["h/0001"].Data) != "h1" || string(got["h/0002"].Data) != "h2" {
			t.Fatalf("scan h/ = %v", got)
		}
	})

	t.Run("expired records are gone", func(t *testing.T) {
		s := open(t)
		past := time.Now().Add(-time.Second)
		future := time.Now().Add(time.Hour)
		put(t, s, "e/old", &state.Record{Data: []byte("x"), Expires: past})
		put(t, s, "e/new", &state.Record{Data: []byte("y"), Expires: future})
		if r := get(t, s, "e/old"); r != nil {
			t.Fatalf("expired record read: %+v", r)
		}
		if r := get(t, s, "e/new"); r == nil || !r.Expires.Equal(future.Truncate(time.Millisecond)) && !r.Expires.Equal(future) {
			t.Fatalf("live record = %+v, want expiry %v", r, future)
		}
		got, _ := s.Scan(ctx, "e/")
		if len(got) != 1 || got["e/new"] == nil {
			t.Fatalf("scan e/ = %v", got)
		}
		s.Update(ctx, []string{"e/old"}, func(m map[string]*state.Record) error {
			if m["e/old"] != nil {
				return errors.New("expired record in update")
			}
			return nil
		})
	})

	t.Run("updates are atomic", func(t *testing.T) {
		s := open(t)
		const workers, each = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					err := s.Update(ctx, []string{"counter"}, func(m map[string]*state.Record) error {
						n := 0
						if r := m["counter"]; r != nil {
							n, _ = strconv.Atoi(string(r.Data))
						}
						m["counter"] = &state.Record{Data: []byte(strconv.Itoa(n + 1))}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if r := get(t, s, "counter"); r == nil || string(r.Data) != strconv.Itoa(workers*each) {
			t.Fatalf("counter = %+v, want %d: lost updates", r, workers*each)
		}
	})
	// A resident engine's workers update at once, and a batching store
	// runs them in one transaction: each must see the writes of those
	// before it.
	t.Run("many goroutines, one record", func(t *testing.T) {
		s := open(t)
		const goroutines = 200
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for range goroutines {
			wg.Go(func() {
				errs <- s.Update(ctx, []string{"counter"}, func(m map[string]*state.Record) error {
					n := 0
					if r := m["counter"]; r != nil {
						n, _ = strconv.Atoi(string(r.Data))
					}
					m["counter"] = &state.Record{Data: []byte(strconv.Itoa(n + 1))}
					return nil
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if r := get(t, s, "counter"); r == nil || string(r.Data) != strconv.Itoa(goroutines) {
			t.Fatalf("counter = %+v, want %d: lost updates", r, goroutines)
		}
	})
}

// apply decides in on s as a run does: the records state.IDs names, in
// one Update, Apply on them. A failure fails t.
func apply(t *testing.T, s state.Store, in state.Input) state.Result {
	t.Helper()
	var res state.Result
	err := s.Update(context.Background(), state.IDs(in), func(recs map[string]*state.Record) error {
		var err error
		res, err = state.Apply(in, recs)
		return err
	})
	if err != nil {
		t.Fatalf("deciding %s: %.200v", in.Event.Key, err)
	}
	return res
}
