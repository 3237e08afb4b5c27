//go:build !linux

package lastgood

import (
	"errors"
	"io/fs"
	"os"
)

// openPrivate: without O_NOFOLLOW, openat and fstat's owner the way Linux
// has them, nothing is kept off Linux.
func openPrivate(dir, name string) (*os.File, fs.FileInfo, error) {
	return nil, nil, errors.ErrUnsupported
}

// writePrivate: nothing is kept off Linux.
func writePrivate(dir, name string, data []byte) {}
