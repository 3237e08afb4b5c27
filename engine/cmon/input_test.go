package cmon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadInput(t *testing.T) {
	tests := []struct {
		name    string
		in      func() *bytes.Reader
		wantLen int
		wantErr string
	}{
		{"sample", func() *bytes.Reader { return bytes.NewReader([]byte(`{"type":"alarm"}`)) }, 16, ""},
		{"empty", func() *bytes.Reader { return bytes.NewReader(nil) }, 0, ""},
		{"exactly the cap", func() *bytes.Reader { return bytes.NewReader(make([]byte, MaxInput)) }, MaxInput, ""},
		{"one byte over", func() *bytes.Reader { return bytes.NewReader(make([]byte, MaxInput+1)) }, MaxInput,
			"cmon: input exceeds 1 MiB"},
		{"far over", func() *bytes.Reader { return bytes.NewReader(make([]byte, 3*MaxInput)) }, MaxInput,
			"cmon: input exceeds 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ReadInput(context.Background(), tt.in())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("ReadInput: %v", err)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInputTooLarge) {
					t.Fatalf("err = %v, want %q (ErrInputTooLarge)", err, tt.wantErr)
				}
			}
			if len(data) != tt.wantLen {
				t.Errorf("read %d bytes, want %d", len(data), tt.wantLen)
			}
		})
	}

	t.Run("read error keeps what was read", func(t *testing.T) {
		r := iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader("{}")))
		data, err := ReadInput(context.Background(), r)
		if !errors.Is(err, iotest.ErrTimeout) || !strings.HasPrefix(err.Error(), "cmon: read input: ") {
			t.Fatalf("err = %v, want wrapped iotest.ErrTimeout", err)
		}
		if string(data) != "{" {
			t.Errorf("data = %q, want %q", data, "{")
		}
	})
}

// TestReadInputNeverClosed: stdin that is never written nor closed must
// not outlive the deadline.
func TestReadInputNeverClosed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Closing both ends after the test releases the reader goroutine.
	t.Cleanup(func() { w.Close(); r.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		data, err := ReadInput(ctx, r)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		if !errors.Is(res.err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", res.err)
		}
		if res.data != nil {
			t.Errorf("data = %q, want nil", res.data)
		}
		if strings.Contains(res.err.Error(), "\n") {
			t.Errorf("error spans lines: %q", res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadInput still blocked %v after a 20ms deadline", time.Since(start))
	}
}

func TestReadInputCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A reader that would succeed: the cancelled context still wins.
	_, err := ReadInput(ctx, strings.NewReader("{}"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
