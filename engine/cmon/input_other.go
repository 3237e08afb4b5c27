//go:build !unix

package cmon

import (
	"context"
	"io"
)

// readPipe: only the goroutine path off Unix.
func readPipe(context.Context, io.Reader) ([]byte, bool, error) { return nil, false, nil }
