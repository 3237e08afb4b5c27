package cmon

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// MaxInput is the stdin cap. A CMON alarm message is well under 1 KiB;
// anything near this size is not an alarm, and reading it unbounded would
// let a broken writer exhaust memory on the controller.
const MaxInput = 1 << 20

// ErrInputTooLarge is returned by ReadInput when the input is larger than
// MaxInput. It is an error rather than a silent cut because a cut message
// would either fail to parse with a misleading "truncated" or, worse, parse.
var ErrInputTooLarge = errors.New("cmon: input exceeds 1 MiB")

// ReadInput reads r to EOF, at most MaxInput bytes, giving up when ctx
// ends: CMON closes the plugin's stdin after writing, but a caller that
// never does must not hang the run past its deadline.
//
// The read runs in its own goroutine. When ctx ends first, ReadInput
// returns at once with ctx's error and that goroutine stays blocked in
// Read until r yields; this is acceptable because the process exits soon
// after, and it is the only way to abandon a blocking read on stdin.
//
// On ErrInputTooLarge and on read errors the bytes read so far (at most
// MaxInput) are returned with the error, so the caller can keep them for
// inspection.
func ReadInput(ctx context.Context, r io.Reader) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cmon: read input: %w", err)
	}
	if data, ok, err := readPipe(ctx, r); ok {
		return data, err
	}
	type result struct {
		data []byte
		err  error
	}
	// Buffered so the reader goroutine can finish and be collected even
	// when nobody is waiting any more.
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return capped(res.data, res.err)
	case <-ctx.Done():
		return nil, gaveUp(ctx.Err())
	}
}

// capped applies MaxInput and wraps read errors.
func capped(data []byte, err error) ([]byte, error) {
	if len(data) > MaxInput {
		return data[:MaxInput], ErrInputTooLarge
	}
	if err != nil {
		return data, fmt.Errorf("cmon: read input: %w", err)
	}
	return data, nil
}

func gaveUp(err error) error {
	return fmt.Errorf("cmon: read input: gave up waiting for end of input: %w", err)
}
