// Package redis is the state.Store that several nodes or controllers
// share: per-id locks with a TTL, and one MULTI/EXEC per Update.
package redis

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"notifier/engine/state"
	"notifier/engine/state/internal/record"
)

// Timeouts and limits of the Redis store. A run has a deadline of a few
// seconds and fails open when the store cannot be reached, so waiting
// long for Redis only delays the page.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = time.Second
	// redisLockTTL bounds how long a killed run can block others: its
	// locks vanish on their own. An Update holds them for a few round
	// trips, far below this.
	redisLockTTL = 5 * time.Second
	// The wait for a lock another run holds: jittered, doubling from
	// min to max, so a storm of runs on one key does not poll in step.
	redisBackoffMin = time.Millisecond
	redisBackoffMax = 25 * time.Millisecond
	// redisBatch is the SCAN COUNT hint and the MGET size of Scan.
	redisBatch = 500
)

// redisUnlock deletes each lock still holding our token (ARGV[1]). A lock
// that expired and was taken by another run is left alone: a plain DEL
// would free a lock that is no longer ours.
const redisUnlock = `for _, k in ipairs(KEYS) do
	if redis.call("GET", k) == ARGV[1] then redis.call("DEL", k) end
end
return 0`

// Store is the state.Store shared by several nodes or controllers. Update locks
// each id with SET <ns>:lock:<id> <token> NX PX (sorted order, so runs
// naming overlapping ids cannot deadlock; a TTL, so a killed run cannot
// block others for long), then WATCHes its locks, reads the records,
// calls fn, and writes in one MULTI/EXEC that also releases the locks with
// a Lua compare-and-delete. The WATCH makes the commit fail rather than
// write if a lock expired and another run took it meanwhile.
//
// Records live at <ns>:rec:<id> in the layout bbolt uses (record.Encode: an
// 8-byte expiry, then the data), with a Redis TTL when they expire.
type Store struct {
	client   *goredis.Client
	ns       string
	unlock   *goredis.Script
	password string // removed from every error text
	userinfo string
}

// Open connects to url (redis://[user:pass@]host:port/db, rediss://
// for TLS) with short dial, read and write timeouts (the URL's own
// dial_timeout, read_timeout and write_timeout win) and at most two
// connections; ns prefixes every key ("notifier" when empty). The
// connection is made lazily by the first call. password, when not empty,
// is given apart from the URL (settings.state.redis.password_file), which
// keeps it out of the policy; it wins over one in the URL and, like it,
// never appears in an error.
func Open(url, password, ns string) (*Store, error) {
	// go-redis logs dial failures to stderr through a process-wide
	// logger; a run reports its own errors, once.
	goredis.SetLogger(redisQuiet{})
	if ns == "" {
		ns = "notifier"
	}
	s := &Store{ns: ns}
	s.userinfo, s.password = redisUserinfo(url)
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, s.unavailable("url", redisURLError(err))
	}
	if password != "" {
		opt.Password, s.password = password, password
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisIOTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisIOTimeout
	}
	opt.ContextTimeoutEnabled = true
	opt.DialerRetries = 1 // the caller fails open instead of waiting
	opt.MaxRetries = -1   // a retried SET NX could report our own lock as taken
	opt.PoolSize = 2
	opt.MaxActiveConns = 2
	opt.PipelinePoolSize = -1
	opt.Protocol = 2 // no push notifications to drain; every server speaks it
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	s.client = goredis.NewClient(opt)
	s.unlock = goredis.NewScript(redisUnlock)
	return s, nil
}

// Update implements state.Store.
func (s *Store) Update(ctx context.Context, ids []string, fn func(map[string]*state.Record) error) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	token := crand.Text()
	if err := s.lock(ctx, ids, token); err != nil {
		return err
	}
	err := s.commit(ctx, ids, token, fn)
	if err != nil {
		// The commit releases the locks; after a failure they may
		// still be ours.
		s.release(ctx, ids, token)
	}
	return err
}

// lock takes the lock of every id in order. When one is held by another
// run it gives back those it has, waits and starts again: holding some
// while waiting could let them expire, and sorted order already keeps two
// runs from each holding what the other needs for long.
//
// The wait is bounded by state.LockWait, like the bbolt file's: a lock key that
// never goes away (set by hand without a TTL, or renewed by a run stuck
// in a loop) makes the run fall back to the local state in time.
func (s *Store) lock(ctx context.Context, ids []string, token string) error {
	backoff := redisBackoffMin
	held := "" // the lock another run held on the last try
	wait := state.LockWait(ctx)
	giveUp := time.NewTimer(wait)
	defer giveUp.Stop()
	for {
		n := 0
		for _, id := range ids {
			ok, err := s.client.SetNX(ctx, s.lockKey(id), token, redisLockTTL).Result()
			if err != nil {
				// The SET may have been applied before the reply was lost.
				s.release(ctx, ids[:n+1], token)
				if held != "" && ctx.Err() != nil {
					// The deadline came while waiting out another run:
					// that is what to say, not the socket timeout.
					return s.unavailable(fmt.Sprintf("lock %q: held by another run", held), ctx.Err())
				}
				return s.unavailable(fmt.Sprintf("lock %q", id), withContext(ctx, err))
			}
			if !ok {
				break
			}
			n++
		}
		if n == len(ids) {
			return nil
		}
		s.release(ctx, ids[:n], token)
		held = ids[n]
		pause := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, redisBackoffMax)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.unavailable(fmt.Sprintf("lock %q: held by another run", ids[n]), ctx.Err())
		case <-giveUp.C:
			t.Stop()
			return s.unavailable(fmt.Sprintf("lock %q", ids[n]), fmt.Errorf("held by another run for over %s (a lock key without a TTL?)", wait.Round(time.Millisecond)))
		case <-t.C:
		}
	}
}

// release gives back locks that may still be ours, even when ctx has
// ended: a lock left behind blocks every other run until its TTL.
func (s *Store) release(ctx context.Context, ids []string, token string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisIOTimeout)
	defer cancel()
	// A failure leaves the locks to expire; the caller's error, if any,
	// already says the store is unwell.
	_ = s.unlock.Run(ctx, s.client, s.lockKeys(ids), token).Err()
}

// commit runs under the locks: read, fn, write-and-release.
func (s *Store) commit(ctx context.Context, ids []string, token string, fn func(map[string]*state.Record) error) error {
	locks := s.lockKeys(ids)
	var fnErr error
	err := s.client.Watch(ctx, func(tx *goredis.Tx) error {
		keys := append(slices.Clone(locks), s.recKeys(ids)...)
		var vals []any
		if len(keys) > 0 {
			var err error
			if vals, err = tx.MGet(ctx, keys...).Result(); err != nil {
				return s.unavailable("read", withContext(ctx, err))
			}
		}
		for i, id := range ids {
			if v, _ := vals[i].(string); v != token {
				return s.unavailable(fmt.Sprintf("lock %q", id), errRedisLockLost)
			}
		}
		now := time.Now()
		recs := make(map[string]*state.Record, len(ids))
		loaded := make(map[string]string, len(ids))
		for i, id := range ids {
			v, ok := vals[len(ids)+i].(string)
			if !ok {
				continue
			}
			r, ok := record.Decode([]byte(v))
			if !ok {
				return s.unavailable(fmt.Sprintf("read %q", id), errRedisDamaged)
			}
			if r.Live(now) {
				recs[id] = r
				loaded[id] = v
			}
		}
		if fnErr = fn(recs); fnErr != nil {
			return fnErr
		}
		if fnErr = state.CheckIDs(recs); fnErr != nil {
			return fnErr // a bug in the caller, as with bbolt
		}
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			s.queueWrites(ctx, p, loaded, recs, time.Now())
			if len(locks) > 0 {
				p.Eval(ctx, redisUnlock, locks, token)
			}
			return nil
		})
		if errors.Is(err, goredis.TxFailedErr) {
			return s.unavailable("write", errRedisLockLost)
		}
		if err != nil {
			return s.unavailable("write", withContext(ctx, err))
		}
		return nil
	}, locks...)
	if err != nil && fnErr == nil && !errors.Is(err, state.ErrUnavailable) {
		err = s.unavailable("read", err) // the WATCH itself failed
	}
	return err
}

// errRedisDamaged says a value is too short to be a record.
var errRedisDamaged = errors.New("damaged record: shorter than its expiry")

// errRedisLockLost says a lock expired and was taken by another run
// before the commit: nothing was written.
var errRedisLockLost = errors.New("lock expired and was taken by another run before the commit")

// queueWrites adds to p what fn changed, as the mem store does: records
// removed from the map or set to nil are deleted, others written unless
// they are exactly as loaded. A record whose expiry has passed is deleted
// rather than written.
func (s *Store) queueWrites(ctx context.Context, p goredis.Pipeliner, loaded map[string]string, recs map[string]*state.Record, now time.Time) {
	var dels []string
	for id := range loaded {
		if _, kept := recs[id]; !kept {
			dels = append(dels, s.recKey(id))
		}
	}
	for id, r := range recs {
		if r == nil || !r.Live(now) {
			dels = append(dels, s.recKey(id))
			continue
		}
		v := record.Encode(r)
		if old, ok := loaded[id]; ok && old == string(v) {
			continue
		}
		var ttl time.Duration
		if !r.Expires.IsZero() {
			// Rounded up: Redis must not drop a record before it expires.
			ttl = r.Expires.Sub(now).Truncate(time.Millisecond) + time.Millisecond
		}
		p.Set(ctx, s.recKey(id), v, ttl)
	}
	if len(dels) > 0 {
		p.Del(ctx, dels...)
	}
}

// View implements state.Store.
func (s *Store) View(ctx context.Context, ids []string) (map[string]*state.Record, error) {
	return s.read(ctx, ids, "read")
}

// Scan implements state.Store.
func (s *Store) Scan(ctx context.Context, prefix string) (map[string]*state.Record, error) {
	what := fmt.Sprintf("scan %q", prefix)
	match := redisGlobEscape(s.recKey(prefix)) + "*"
	seen := map[string]bool{}
	var ids []string
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, match, redisBatch).Result()
		if err != nil {
			return nil, s.unavailable(what, err)
		}
		for _, k := range keys {
			if id := strings.TrimPrefix(k, s.recKey("")); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	out := map[string]*state.Record{}
	for chunk := range slices.Chunk(ids, redisBatch) {
		recs, err := s.read(ctx, chunk, what)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, recs)
	}
	return out, nil
}

// read MGETs ids and keeps the live records.
func (s *Store) read(ctx context.Context, ids []string, what string) (map[string]*state.Record, error) {
	out := make(map[string]*state.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.client.MGet(ctx, s.recKeys(ids)...).Result()
	if err != nil {
		return nil, s.unavailable(what, err)
	}
	now := time.Now()
	for i, id := range ids {
		v, ok := vals[i].(string)
		if !ok {
			continue
		}
		r, ok := record.Decode([]byte(v))
		if !ok {
			return nil, s.unavailable(fmt.Sprintf("%s %q", what, id), errRedisDamaged)
		}
		if r.Live(now) {
			out[id] = r
		}
	}
	return out, nil
}

// Close implements state.Store.
func (s *Store) Close() error {
	return s.client.Close()
}

func (s *Store) recKey(id string) string  { return s.ns + ":rec:" + id }
func (s *Store) lockKey(id string) string { return s.ns + ":lock:" + id }

func (s *Store) recKeys(ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.recKey(id)
	}
	return keys
}

func (s *Store) lockKeys(ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.lockKey(id)
	}
	return keys
}
