package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"notifier/engine/state"
	"notifier/engine/state/redis"
	"notifier/engine/state/storetest"
	"notifier/internal/redistest"

	"notifier/internal/apitest"
)

var redisNS atomic.Int64

// newNS gives each store under test its own key space on a shared server.
func newNS() string { return fmt.Sprintf("test%d", redisNS.Add(1)) }

func openRedis(t testing.TB, url, ns string) *redis.Store {
	t.Helper()
	s, err := redis.Open(url, "", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawRedis is a plain client for what another (or a killed) run would do.
func rawRedis(t testing.TB, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// increment adds one to the counter at each id.
func increment(ids ...string) func(map[string]*state.Record) error {
	return func(m map[string]*state.Record) error {
		for _, id := range ids {
			n := 0
			if r := m[id]; r != nil {
				n, _ = strconv.Atoi(string(r.Data))
			}
			m[id] = &state.Record{Data: []byte(strconv.Itoa(n + 1))}
		}
		return nil
	}
}

func TestRedisConformance(t *testing.T) {
	url := redistest.StartURL(t)
	storetest.Run(t, func(t *testing.T) state.Store { return openRedis(t, url, newNS()) })
}

// TestRedisTwoNodes is two hosts sharing one Redis: separate clients, one
// counter, no lost update.
func TestRedisTwoNodes(t *testing.T) {
	url, ns := redistest.StartURL(t), newNS()
	nodes := []*redis.Store{openRedis(t, url, ns), openRedis(t, url, ns)}
	const workers, each = 8, 40
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for _, node := range nodes {
		for range workers {
			wg.Go(func() {
				for range each {
					if err := node.Update(ctx, []string{"counter"}, increment("counter")); err != nil {
						failures.Add(1)
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	got, err := nodes[0].View(ctx, []string{"counter"})
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(len(nodes) * workers * each)
	if r := got["counter"]; failures.Load() == 0 && (r == nil || string(r.Data) != want) {
		t.Fatalf("counter = %+v, want %s: lost updates", r, want)
	}
}

// TestRedisOverlappingSets runs updates naming overlapping ids in every
// order from two nodes: none may deadlock, and every counter is exact.
func TestRedisOverlappingSets(t *testing.T) {
	url, ns := redistest.StartURL(t), newNS()
	nodes := []*redis.Store{openRedis(t, url, ns), openRedis(t, url, ns)}
	sets := [][]string{{"a", "b"}, {"b", "a"}, {"b", "c"}, {"c", "a"}, {"c", "b", "a"}, {"a", "a"}}
	const each = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]int{}
	var wg sync.WaitGroup
	for i, set := range sets {
		node := nodes[i%len(nodes)]
		unique := slices.Compact(slices.Sorted(slices.Values(set)))
		for _, id := range unique {
			want[id] += each
		}
		wg.Go(func() {
			for range each {
				if err := node.Update(ctx, set, increment(unique...)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := nodes[1].View(ctx, slices.Collect(maps.Keys(want)))
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range want {
		if r := got[id]; r == nil || string(r.Data) != strconv.Itoa(n) {
			t.Errorf("%s = %+v, want %d", id, r, n)
		}
	}
}

// TestRedisKilledHolder: a run killed while holding a lock leaves it
// behind; the next run takes it over once its TTL ends, not before.
func TestRedisKilledHolder(t *testing.T) {
	addr, ns := redistest.Start(t), newNS()
	s := openRedis(t, "redis://"+addr+"/0", ns)
	raw := rawRedis(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	const ttl = 200 * time.Millisecond
	if err := raw.Set(ctx, ns+":lock:w/x", "killed-run", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, []string{"w/x"}, increment("w/x")); err != nil {
		t.Fatalf("update after the dead lock's TTL: %v", err)
	}
	if took := time.Since(start); took < ttl-5*time.Millisecond {
		t.Fatalf("update finished after %v, while the lock was held for %v", took, ttl)
	}
	got, err := s.View(ctx, []string{"w/x"})
	if err != nil || got["w/x"] == nil || string(got["w/x"].Data) != "1" {
		t.Fatalf("w/x = %+v, %v", got["w/x"], err)
	}
	if n, err := raw.Exists(ctx, ns+":lock:w/x").Result(); err != nil || n != 0 {
		t.Fatalf("lock left behind: exists = %d, %v", n, err)
	}
}

// TestRedisLockHeldPastDeadline: a lock another run holds longer than the
// caller can wait ends in ErrUnavailable after a bounded wait, with most
// of the deadline left (to deliver without shared state), and the other
// run's lock is left alone.
func TestRedisLockHeldPastDeadline(t *testing.T) {
	addr, ns := redistest.Start(t), newNS()
	s := openRedis(t, "redis://"+addr+"/0", ns)
	raw := rawRedis(t, addr)
	if err := raw.Set(context.Background(), ns+":lock:w/x", "other-run", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	const deadline = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	called := false
	err := s.Update(ctx, []string{"w/a", "w/x"}, func(map[string]*state.Record) error { called = true; return nil })
	took := time.Since(start)
	if !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "held by another run") {
		t.Fatalf("err = %v, want ErrUnavailable: held by another run", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the lock wait took the whole deadline: nothing left to deliver with")
	}
	if !strings.Contains(err.Error(), `"w/x"`) {
		t.Errorf("error %q does not name the id", err)
	}
	if called {
		t.Error("fn ran without the lock")
	}
	if took > deadline+time.Second {
		t.Errorf("returned %v after the deadline", took-deadline)
	}
	if v, err := raw.Get(context.Background(), ns+":lock:w/x").Result(); err != nil || v != "other-run" {
		t.Errorf("other run's lock = %q, %v", v, err)
	}
	if n, _ := raw.Exists(context.Background(), ns+":lock:w/a").Result(); n != 0 {
		t.Error("lock on w/a left behind")
	}
}

// TestRedisLockWaitBoundedWithoutDeadline: a wait with no deadline (the
// settling of deliveries after the run's deadline) still ends, after
// MaxLockWait, instead of waiting for ever on a lock key without a TTL.
func TestRedisLockWaitBoundedWithoutDeadline(t *testing.T) {
	addr, ns := redistest.Start(t), newNS()
	s := openRedis(t, "redis://"+addr+"/0", ns)
	if err := rawRedis(t, addr).Set(context.Background(), ns+":lock:w/x", "set-by-hand", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err := s.Update(context.Background(), []string{"w/x"}, func(map[string]*state.Record) error { return nil })
	if !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "held by another run for over "+state.MaxLockWait.String()) {
		t.Fatalf("err = %v, want ErrUnavailable: held for over %s", err, state.MaxLockWait)
	}
}

// TestRedisLockLostBeforeCommit: when a lock expires and another run takes
// it while fn runs (a stalled process), the commit writes nothing.
func TestRedisLockLostBeforeCommit(t *testing.T) {
	addr, ns := redistest.Start(t), newNS()
	s := openRedis(t, "redis://"+addr+"/0", ns)
	raw := rawRedis(t, addr)
	ctx := context.Background()
	err := s.Update(ctx, []string{"w/x"}, func(m map[string]*state.Record) error {
		if err := raw.Set(ctx, ns+":lock:w/x", "next-run", time.Minute).Err(); err != nil {
			return err
		}
		m["w/x"] = &state.Record{Data: []byte("stale decision")}
		m["h/1"] = &state.Record{Data: []byte("history")}
		return nil
	})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	got, _ := s.View(ctx, []string{"w/x", "h/1"})
	if len(got) != 0 {
		t.Fatalf("written without the lock: %v", got)
	}
	if v, _ := raw.Get(ctx, ns+":lock:w/x").Result(); v != "next-run" {
		t.Fatalf("the next run's lock = %q, was released by us", v)
	}
}

// TestRedisDown: every operation on a closed port fails at once with
// ErrUnavailable, without calling fn.
func TestRedisDown(t *testing.T) {
	s := openRedis(t, "redis://"+apitest.ClosedAddr(t)+"/0", "notifier")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ops := []struct {
		name string
		run  func() error
	}{
		{"update", func() error {
			return s.Update(ctx, []string{"w/x"}, func(map[string]*state.Record) error {
				return errors.New("fn called with Redis down")
			})
		}},
		{"view", func() error { _, err := s.View(ctx, []string{"w/x"}); return err }},
		{"scan", func() error { _, err := s.Scan(ctx, "w/"); return err }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			start := time.Now()
			err := op.run()
			if !errors.Is(err, state.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if !strings.HasPrefix(err.Error(), "redis: ") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error %q: want one line starting with \"redis: \"", err)
			}
			t.Log(err)
			// Refused at once; the bound is the dial timeout and a margin.
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// TestRedisErrorsHideThePassword: whatever fails, the URL's password is
// not in the error.
func TestRedisErrorsHideThePassword(t *testing.T) {
	live, locked := redistest.Start(t), redistest.Start(t)
	if err := rawRedis(t, locked).ConfigSet(context.Background(), "requirepass", "right-pw").Err(); err != nil {
		t.Fatal(err)
	}
	closed := apitest.ClosedAddr(t)
	tests := []struct {
		name, url string
		secrets   []string
	}{
		{"closed port", "redis://notifier:s3cret-pw@" + closed + "/0", []string{"s3cret-pw"}},
		{"auth refused", "redis://notifier:s3cret-pw@" + live + "/0", []string{"s3cret-pw"}},
		{"wrong password", "redis://:s3cret-pw@" + locked + "/0", []string{"s3cret-pw"}},
		{"no password", "redis://" + locked + "/0", nil},
		{"bad port", "redis://notifier:s3cret-pw@127.0.0.1:notaport/0", []string{"s3cret-pw"}},
		{"bad database", "redis://notifier:s3cret-pw@" + live + "/x", []string{"s3cret-pw"}},
		{"escaped password", "redis://notifier:p%40ss%20w0rd@127.0.0.1:notaport/0", []string{"p%40ss%20w0rd", "p@ss w0rd"}},
		{"bad scheme", "http://notifier:s3cret-pw@" + live + "/0", []string{"s3cret-pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := redis.Open(tt.url, "", "notifier")
			if err == nil {
				defer s.Close()
				_, err = s.View(ctx, []string{"w/x"})
			}
			if !errors.Is(err, state.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			for _, secret := range tt.secrets {
				if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
					t.Fatalf("error %q contains the password", err)
				}
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q spans lines", err)
			}
			t.Log(err)
		})
	}
}

// TestRedisPasswordReachesTheServer: the URL's password is sent.
func TestRedisPasswordReachesTheServer(t *testing.T) {
	addr := redistest.Start(t)
	if err := rawRedis(t, addr).ConfigSet(context.Background(), "requirepass", "right-pw").Err(); err != nil {
		t.Fatal(err)
	}
	s := openRedis(t, "redis://:right-pw@"+addr+"/0", newNS())
	if _, err := s.View(context.Background(), []string{"w/x"}); err != nil {
		t.Fatal(err)
	}
}

// TestRedisScanEscapesPatterns: ids holding glob characters are matched
// literally, and one namespace never sees another's records.
func TestRedisScanEscapesPatterns(t *testing.T) {
	url, ns := redistest.StartURL(t), newNS()
	s, other := openRedis(t, url, ns), openRedis(t, url, ns+"*")
	ids := []string{`k/a*b`, `k/aXb`, `k/a?c`, `k/abc`, `k/[x]`, `k/x`, `k/a\b`, `k/ab`}
	ctx := context.Background()
	write := func(s *redis.Store, data string) {
		err := s.Update(ctx, nil, func(m map[string]*state.Record) error {
			for _, id := range ids {
				m[id] = &state.Record{Data: []byte(data)}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(s, "mine")
	write(other, "other namespace")
	tests := []struct {
		prefix string
		want   []string
	}{
		{`k/a*`, []string{`k/a*b`}},
		{`k/a?`, []string{`k/a?c`}},
		{`k/[`, []string{`k/[x]`}},
		{`k/a\`, []string{`k/a\b`}},
		{`k/a`, []string{`k/a*b`, `k/aXb`, `k/a?c`, `k/abc`, `k/a\b`, `k/ab`}},
		{``, ids},
		{`nothing`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := s.Scan(ctx, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(tt.want))) {
				t.Fatalf("scan %q = %q, want %q", tt.prefix, keys, tt.want)
			}
			for id, r := range got {
				if string(r.Data) != "mine" {
					t.Fatalf("%s = %q from another namespace", id, r.Data)
				}
			}
		})
	}
}

// TestRedisScanMany crosses SCAN pages and MGET batches.
func TestRedisScanMany(t *testing.T) {
	s := openRedis(t, redistest.StartURL(t), newNS())
	ctx := context.Background()
	const n = 1234
	err := s.Update(ctx, nil, func(m map[string]*state.Record) error {
		for i := range n {
			m[fmt.Sprintf("h/%05d", i)] = &state.Record{Data: []byte(strconv.Itoa(i))}
		}
		m["w/not-history"] = &state.Record{Data: []byte("x")}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Scan(ctx, "h/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || string(got["h/01233"].Data) != "1233" {
		t.Fatalf("scan found %d records, want %d", len(got), n)
	}
}

// TestRedisRoundTrip: any bytes and an expiry to the nanosecond come back.
func TestRedisRoundTrip(t *testing.T) {
	s := openRedis(t, redistest.StartURL(t), newNS())
	ctx := context.Background()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	expires := time.Now().Add(time.Hour).Round(0).Add(123)
	farFuture := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		rec     state.Record
		expires time.Time
	}{
		{"every byte value", state.Record{Data: all}, time.Time{}},
		{"empty", state.Record{Data: []byte{}}, time.Time{}},
		{"expiry to the nanosecond", state.Record{Data: []byte("x"), Expires: expires}, expires},
		{"far future is kept as the latest time", state.Record{Data: []byte("x"), Expires: farFuture}, time.Unix(0, math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "r/" + tt.name
			if err := s.Update(ctx, []string{id}, func(m map[string]*state.Record) error { m[id] = &tt.rec; return nil }); err != nil {
				t.Fatal(err)
			}
			got, err := s.View(ctx, []string{id})
			if err != nil {
				t.Fatal(err)
			}
			r := got[id]
			if r == nil || !bytes.Equal(r.Data, tt.rec.Data) || !r.Expires.Equal(tt.expires) {
				t.Fatalf("read back %+v, want data %q expiring %v", r, tt.rec.Data, tt.expires)
			}
		})
	}
}

// TestRedisRecordTTL: Redis itself drops expiring records (a TTL), and a
// record rewritten without expiry loses it.
func TestRedisRecordTTL(t *testing.T) {
	addr, ns := redistest.Start(t), newNS()
	s := openRedis(t, "redis://"+addr+"/0", ns)
	raw := rawRedis(t, addr)
	ctx := context.Background()
	put := func(r *state.Record) {
		t.Helper()
		if err := s.Update(ctx, []string{"w/x"}, func(m map[string]*state.Record) error { m["w/x"] = r; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	put(&state.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
	if ttl, err := raw.PTTL(ctx, ns+":rec:w/x").Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour+time.Second {
		t.Fatalf("PTTL = %v, %v; want about an hour", ttl, err)
	}
	put(&state.Record{Data: []byte("x")})
	if ttl, err := raw.PTTL(ctx, ns+":rec:w/x").Result(); err != nil || ttl != -1 {
		t.Fatalf("PTTL = %v, %v; want none (-1)", ttl, err)
	}
}

func BenchmarkRedisUpdate(b *testing.B) {
	url := redistest.StartURL(b)
	ctx := context.Background()
	b.Run("one key", func(b *testing.B) {
		s := openRedis(b, url, newNS())
		for b.Loop() {
			if err := s.Update(ctx, []string{"w/k"}, increment("w/k")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three keys", func(b *testing.B) {
		s := openRedis(b, url, newNS())
		for b.Loop() {
			if err := s.Update(ctx, []string{"w/k", "i/k", "o/k"}, increment("w/k", "i/k", "o/k")); err != nil {
				b.Fatal(err)
			}
		}
	})
	// One client per CPU, as concurrent runs on one host would be.
	b.Run("contended key", func(b *testing.B) {
		ns := newNS()
		b.RunParallel(func(pb *testing.PB) {
			s, err := redis.Open(url, "", ns)
			if err != nil {
				b.Error(err)
				return
			}
			defer s.Close()
			for pb.Next() {
				if err := s.Update(ctx, []string{"w/k"}, increment("w/k")); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestRedisUpdateWithoutIDs: an Update that locks nothing may still add
// unique records, or do nothing at all.
func TestRedisUpdateWithoutIDs(t *testing.T) {
	s := openRedis(t, redistest.StartURL(t), newNS())
	ctx := context.Background()
	tests := []struct {
		name string
		fn   func(map[string]*state.Record) error
		want int
	}{
		{"nothing", func(map[string]*state.Record) error { return nil }, 0},
		{"adds a record", func(m map[string]*state.Record) error {
			m["h/1"] = &state.Record{Data: []byte("x")}
			return nil
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Update(ctx, nil, tt.fn); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Scan(ctx, "h/"); err != nil || len(got) != tt.want {
				t.Fatalf("scan = %v, %v; want %d records", got, err, tt.want)
			}
		})
	}
}

// TestRedisPasswordApartFromTheURL: a password given apart from the URL
// (settings.state.redis.password_file) is sent, and a wrong one never
// shows in the error.
func TestRedisPasswordApartFromTheURL(t *testing.T) {
	addr := redistest.Start(t)
	if err := rawRedis(t, addr).ConfigSet(context.Background(), "requirepass", "right-pw").Err(); err != nil {
		t.Fatal(err)
	}
	for pw, ok := range map[string]bool{"right-pw": true, "wrong-pw": false} {
		s, err := redis.Open("redis://"+addr+"/0", pw, newNS())
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.View(context.Background(), []string{"w/x"})
		s.Close()
		if (err == nil) != ok || (err != nil && strings.Contains(err.Error(), pw)) {
			t.Errorf("password %s: err = %v", pw, err)
		}
	}
}
