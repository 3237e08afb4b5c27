package bolt

import (
	"context"
	"errors"
	"fmt"
	"notifier/engine/state"
	"notifier/engine/state/internal/record"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// openFDCount counts this process's open file descriptors.
func openFDCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// TestBoltLockWaitHonoursContext: a process whose deadline nears while
// another holds the lock gives up at once (within a quarter of what was
// left, or when ctx is cancelled) with state.ErrUnavailable (and then delivers
// without state); its abandoned wait releases the lock as soon
// as it gets it, so nobody is blocked by a process that has moved on.
func TestBoltLockWaitHonoursContext(t *testing.T) {
	b, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if err := b.Update(bg, nil, func(m map[string]*state.Record) error { m["k"] = &state.Record{Data: []byte("0")}; return nil }); err != nil {
		t.Fatal(err)
	}
	fds := openFDCount(t)

	held, release, holder := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		holder <- b.Update(bg, []string{"k"}, func(m map[string]*state.Record) error {
			close(held)
			<-release
			m["k"] = &state.Record{Data: []byte("holder")}
			return nil
		})
	}()
	<-held

	deadline := func() (context.Context, context.CancelFunc) { return context.WithTimeout(bg, 50*time.Millisecond) }
	cancelled := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(bg)
		time.AfterFunc(50*time.Millisecond, cancel)
		return ctx, cancel
	}
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
		op   func(context.Context) error
	}{
		{"update deadline", deadline, errLockHeld, func(ctx context.Context) error {
			return b.Update(ctx, []string{"k"}, func(map[string]*state.Record) error {
				return errors.New("fn ran while another Update held the lock")
			})
		}},
		{"update cancel", cancelled, context.Canceled, func(ctx context.Context) error {
			return b.Update(ctx, []string{"k"}, func(map[string]*state.Record) error { return errors.New("fn ran") })
		}},
		{"view deadline", deadline, errLockHeld, func(ctx context.Context) error {
			_, err := b.View(ctx, []string{"k"})
			return err
		}},
		{"scan deadline", deadline, errLockHeld, func(ctx context.Context) error {
			_, err := b.Scan(ctx, "")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := tc.op(ctx)
			elapsed := time.Since(start)
			if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want state.ErrUnavailable and %v", err, tc.want)
			}
			if want := "state: lock " + b.lockPath + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %q, want prefix %q", err, want)
			}
			if elapsed > time.Second { // 50 ms plus scheduling; a poll or a wait for the holder is far more
				t.Errorf("gave up after %v, want about 50ms", elapsed)
			}
		})
	}

	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { b.pending.Wait(); close(waited) }()
	select {
	case <-waited: // every abandoned wait got the lock and let it go
	case <-time.After(10 * time.Second):
		t.Fatal("abandoned lock waits still running after the holder released")
	}
	if n := openFDCount(t); n != fds {
		t.Errorf("%d file descriptors open, %d before: abandoned waits leaked", n, fds)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	err = b.Update(ctx, []string{"k"}, func(m map[string]*state.Record) error {
		if r := m["k"]; r == nil || string(r.Data) != "holder" {
			return fmt.Errorf("k = %+v, want the holder's write", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltDoneContext(t *testing.T) {
	b, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = b.Update(ctx, nil, func(map[string]*state.Record) error { return errors.New("fn ran") })
	if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want state.ErrUnavailable and Canceled", err)
	}
}

// boltRaw reads the file as bbolt stores it: ids still present (expired or
// not) and the last committed transaction id.
func boltRaw(t *testing.T, path string) (ids []string, txid int) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bbolt.Tx) error {
		txid = tx.ID()
		return tx.Bucket(boltRecords).ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
	})
	return ids, txid
}

func boltCountPrefix(ids []string, prefix string) (n int) {
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// TestBoltPrunes: expired records leave the file, not just the results —
// named ones in the Update that names them, the rest by the bounded
// sweep, which resumes where it stopped so records late in the key order
// are reached too.
func TestBoltPrunes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_700_000_000, 0)
	b.now = func() time.Time { return clock }
	ctx := context.Background()
	const live, expiring = 2 * boltSweepExamine, 250
	err = b.Update(ctx, nil, func(m map[string]*state.Record) error {
		for i := range live {
			m[fmt.Sprintf("a/%05d", i)] = &state.Record{Data: []byte("live")}
		}
		for i := range expiring {
			m[fmt.Sprintf("z/%05d", i)] = &state.Record{Data: []byte("old"), Expires: clock.Add(time.Minute)}
		}
		m["named"] = &state.Record{Data: []byte("old"), Expires: clock.Add(time.Minute)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute)

	err = b.Update(ctx, []string{"named"}, func(m map[string]*state.Record) error {
		if m["named"] != nil {
			return errors.New("expired record loaded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := boltRaw(t, path)
	if boltCountPrefix(ids, "named") != 0 {
		t.Fatal("the expired record an Update named is still in the file")
	}

	// The two sweeps so far examined the live a/ ids (boltSweepExamine
	// each); a sweep that started from the first id every time would
	// never reach z/. Now each deletes boltSweepDelete.
	noop := func(map[string]*state.Record) error { return nil }
	for i, want := range []int{150, 50, 0} {
		if err := b.Update(ctx, nil, noop); err != nil {
			t.Fatal(err)
		}
		ids, _ := boltRaw(t, path)
		if got := boltCountPrefix(ids, "z/"); got != want {
			t.Fatalf("after sweep %d: %d expired records in the file, want %d", i+3, got, want)
		}
		if got := boltCountPrefix(ids, "a/"); got != live {
			t.Fatalf("after sweep %d: %d live records, want %d", i+3, got, live)
		}
	}

	// Nothing changed and nothing to prune: no commit, no fsync.
	_, before := boltRaw(t, path)
	for range 3 {
		if err := b.Update(ctx, []string{"a/00001"}, noop); err != nil {
			t.Fatal(err)
		}
	}
	if _, after := boltRaw(t, path); after != before {
		t.Errorf("no-op Updates committed: txid %d -> %d", before, after)
	}
}

func TestBoltCodec(t *testing.T) {
	at := time.Unix(1_700_000_000, 123456789)
	for _, tc := range []struct {
		name string
		in   state.Record
		want time.Time
	}{
		{"never", state.Record{Data: []byte("x")}, time.Time{}},
		{"nanoseconds kept", state.Record{Data: []byte("x"), Expires: at}, at},
		{"empty data", state.Record{Data: nil, Expires: at}, at},
		{"before 1970 is past, not never", state.Record{Expires: time.Unix(-5, 0)}, time.Unix(0, 1)},
		{"far future", state.Record{Expires: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, time.Unix(0, 1<<63-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := record.Decode(record.Encode(&tc.in))
			if !ok || string(r.Data) != string(tc.in.Data) || !r.Expires.Equal(tc.want) {
				t.Fatalf("round trip = %+v, %v; want data %q expiry %v", r, ok, tc.in.Data, tc.want)
			}
		})
	}
	if _, ok := record.Decode([]byte("short")); ok {
		t.Error("a value shorter than its expiry decoded")
	}
}
