//go:build unix

package cmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPipes are the ways a writer that never closes reaches ReadInput: a
// pipe (CMON's way, read through the poller) and a socket (the reader
// goroutine's way).
var openPipes = []struct {
	name string
	pair func(t *testing.T) (r, w *os.File)
}{
	{"pipe", func(t *testing.T) (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		return r, w
	}},
	{"socket", func(t *testing.T) (*os.File, *os.File) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
	}},
}

// TestReadInputCompleteOnOpenInput: a complete message is taken at once
// though the writer never closes; the deadline is long, so an error here
// means the read waited for it.
func TestReadInputCompleteOnOpenInput(t *testing.T) {
	const msg = `{"type":"alarm","action":"new","alarm":{"title":"a } in \"text\" ]","x":[1,{"y":2}]}}`
	for _, p := range openPipes {
		for _, split := range []int{len(msg), 1, 17, len(msg) - 1} {
			t.Run(fmt.Sprintf("%s/split %d", p.name, split), func(t *testing.T) {
				r, w := p.pair(t)
				t.Cleanup(func() { w.Close(); r.Close() })
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				go func() {
					w.Write([]byte(msg[:split]))
					w.Write([]byte(msg[split:]))
				}()
				data, err := ReadInput(ctx, r)
				if err != nil {
					t.Fatalf("ReadInput: %v", err)
				}
				if string(data) != msg {
					t.Errorf("data = %q, want %q", data, msg)
				}
			})
		}
	}
}

// TestReadInputTrailingDataKept: what a writer sent after the value and
// then closed is read too, so Decode still rejects it.
func TestReadInputTrailingDataKept(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	const msg = `{"type":"alarm"} garbage`
	w.Write([]byte(msg))
	w.Close()
	data, err := ReadInput(context.Background(), r)
	if err != nil || string(data) != msg {
		t.Fatalf("ReadInput = %q, %v; want %q", data, err, msg)
	}
	if _, err := Decode(data, Options{}); err == nil || !strings.Contains(err.Error(), "trailing data") {
		t.Errorf("Decode: %v, want trailing data", err)
	}
}

// TestReadInputPartialKept: a message cut short on an input never closed
// comes back with the deadline's error, for rejected/: never dropped.
func TestReadInputPartialKept(t *testing.T) {
	for _, p := range openPipes {
		t.Run(p.name, func(t *testing.T) {
			r, w := p.pair(t)
			t.Cleanup(func() { w.Close(); r.Close() })
			const partial = `{"type":"alarm","action":"new","alarm":{`
			if _, err := w.Write([]byte(partial)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			data, err := ReadInput(ctx, r)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "incomplete") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming an incomplete message and wrapping context.DeadlineExceeded", err)
			}
			if string(data) != partial {
				t.Errorf("data = %q, want %q", data, partial)
			}
		})
	}
}

// A pipe as CMON hands it over is blocking (os.Pipe's are not): the
// read sets O_NONBLOCK only for itself and puts the flags back, on a
// whole message and on a deadline alike.
func TestReadInputBlockingPipeFlagsRestored(t *testing.T) {
	for _, whole := range []bool{true, false} {
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			t.Fatal(err)
		}
		r, w := os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
		before, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0)
		if err != nil || before&unix.O_NONBLOCK != 0 {
			t.Fatalf("flags %#x, %v: want a blocking pipe", before, err)
		}
		msg := `{"type":"alarm"`
		if whole {
			msg += `}`
		}
		w.Write([]byte(msg))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		data, err := ReadInput(ctx, r)
		cancel()
		if string(data) != msg || (err == nil) != whole {
			t.Errorf("whole %v: %q, %v", whole, data, err)
		}
		if after, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0); err != nil || after != before {
			t.Errorf("whole %v: flags %#x after the read, %#x before (%v)", whole, after, before, err)
		}
		r.Close()
		w.Close()
	}
}
