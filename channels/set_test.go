package channels

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// counted is a channel that counts its Close calls.
type counted struct {
	closes   atomic.Int32
	closeErr error
}

func (c *counted) Notify(context.Context, *Message) error { return nil }
func (c *counted) Close() error {
	c.closes.Add(1)
	return c.closeErr
}

// TestSetBuildsOnceAndClosesAll: concurrent deliveries to one channel
// share one build; Close closes every channel built, once.
func TestSetBuildsOnceAndClosesAll(t *testing.T) {
	var mu sync.Mutex
	builds := map[string]int{}
	built := map[string]*counted{}
	s := NewSet(func(name string) (Channel, error) {
		mu.Lock()
		defer mu.Unlock()
		builds[name]++
		c := &counted{}
		built[name] = c
		return c, nil
	})
	var wg sync.WaitGroup
	got := make([]Channel, 16)
	for i := range got {
		wg.Go(func() {
			name := "pager"
			if i%2 == 1 {
				name = "ops"
			}
			ch, err := s.Get(name)
			if err != nil {
				t.Error(err)
			}
			got[i] = ch
		})
	}
	wg.Wait()
	if builds["pager"] != 1 || builds["ops"] != 1 {
		t.Fatalf("builds = %v, want each channel built once", builds)
	}
	for i, ch := range got {
		want := built["pager"]
		if i%2 == 1 {
			want = built["ops"]
		}
		if ch != Channel(want) {
			t.Errorf("Get %d returned another instance", i)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, c := range built {
		if n := c.closes.Load(); n != 1 {
			t.Errorf("%s closed %d times, want 1", name, n)
		}
	}
	if _, err := s.Get("pager"); !errors.Is(err, ErrSetClosed) {
		t.Errorf("Get after Close: %v, want ErrSetClosed", err)
	}
}

// TestSetRetriesFailedBuilds: a failed build is not remembered (a secret
// file being rewritten may be whole at the next attempt), and nothing
// is closed for it.
func TestSetRetriesFailedBuilds(t *testing.T) {
	broken := errors.New("routing_key_file: empty")
	calls := 0
	c := &counted{}
	s := NewSet(func(string) (Channel, error) {
		calls++
		if calls == 1 {
			return nil, broken
		}
		return c, nil
	})
	if _, err := s.Get("pager"); !errors.Is(err, broken) {
		t.Fatalf("first Get: %v, want the build's error", err)
	}
	ch, err := s.Get("pager")
	if err != nil || ch != Channel(c) {
		t.Fatalf("second Get = %v, %v; want the channel built now", ch, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || c.closes.Load() != 1 {
		t.Errorf("builds %d, closes %d; want 2 and 1", calls, c.closes.Load())
	}
}

// TestSetCloseErrors: every channel is closed even when one fails to,
// and the error names the channel.
func TestSetCloseErrors(t *testing.T) {
	bad := &counted{closeErr: errors.New("close: broken pipe")}
	good := &counted{}
	s := NewSet(func(name string) (Channel, error) {
		if name == "local" {
			return bad, nil
		}
		return good, nil
	})
	for _, name := range []string{"local", "pager"} {
		if _, err := s.Get(name); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Close()
	if err == nil || err.Error() != `channel "local": close: broken pipe` {
		t.Errorf("Close() = %v", err)
	}
	if bad.closes.Load() != 1 || good.closes.Load() != 1 {
		t.Errorf("closes: %d and %d, want 1 each", bad.closes.Load(), good.closes.Load())
	}
}

// TestSetWithNothingBuilt: closing an unused set is fine.
func TestSetWithNothingBuilt(t *testing.T) {
	s := NewSet(func(string) (Channel, error) {
		t.Fatal("built a channel nobody asked for")
		return nil, nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
