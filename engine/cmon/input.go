package cmon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxInput is the stdin cap. A CMON alarm message is well under 1 KiB;
// anything near this size is not an alarm, and reading it unbounded would
// let a broken writer exhaust memory on the controller.
const MaxInput = 1 << 20

// ErrInputTooLarge is returned by ReadInput when the input is larger than
// MaxInput. It is an error rather than a silent cut because a cut message
// would either fail to parse with a misleading "truncated" or, worse, parse.
var ErrInputTooLarge = errors.New("cmon: input exceeds 1 MiB")

// readChunk is how much one read asks for: a CMON message fits in one.
const readChunk = 4096

// ReadInput reads r until end of input or until the bytes read form one
// complete JSON object or array, at most MaxInput bytes, giving up when
// ctx ends. CMON closes the plugin's stdin after writing, but a writer
// that never does must neither hang the run past its deadline nor cost
// the alarm it did send: a message is an event as soon as it is
// complete. On a pipe, whatever the writer had already sent after the
// value is read too (so trailing data is still reported by Decode);
// readers that are not pipes, terminals or sockets are read to EOF.
//
// The read runs in its own goroutine unless r is a pipe the runtime can
// poll. When ctx ends first, ReadInput returns at once and that goroutine
// stays blocked in Read until r yields; this is acceptable because the
// process exits soon after, and it is the only way to abandon a blocking
// read on stdin.
//
// On ErrInputTooLarge, on read errors and when ctx ends, the bytes read
// so far (at most MaxInput) are returned with the error, so the caller
// can keep them for inspection: nothing that arrived is dropped.
func ReadInput(ctx context.Context, r io.Reader) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cmon: read input: %w", err)
	}
	if data, ok, err := readPipe(ctx, r); ok {
		return data, err
	}
	stopEarly := false
	if f, isFile := r.(*os.File); isFile {
		st, err := f.Stat()
		stopEarly = err != nil || !st.Mode().IsRegular()
	}
	type result struct {
		data []byte
		err  error
	}
	// Buffered so the reader goroutine can finish and be collected even
	// when nobody is waiting any more.
	done := make(chan result, 1)
	var got chunks
	go func() {
		var sc scanner
		buf := make([]byte, readChunk)
		for {
			n, err := r.Read(buf)
			got.add(buf[:n])
			if err == io.EOF {
				done <- result{got.bytes(), nil}
				return
			}
			if err != nil || got.len() > MaxInput || (sc.feed(buf[:n]) && stopEarly) {
				done <- result{got.bytes(), err}
				return
			}
		}
	}()
	select {
	case res := <-done:
		return capped(res.data, res.err)
	case <-ctx.Done():
		return gaveUp(got.bytes(), ctx.Err())
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

// gaveUp is the deadline's error, with what had arrived by then.
func gaveUp(data []byte, err error) ([]byte, error) {
	if len(data) > MaxInput {
		data = data[:MaxInput]
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("cmon: read input: nothing arrived and the input was not closed: %w", err)
	}
	return data, fmt.Errorf("cmon: read input: the message is incomplete (%d bytes arrived, not a whole JSON value) and the input was not closed: %w", len(data), err)
}
