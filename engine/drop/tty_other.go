//go:build !linux

package drop

import "io"

// IsTerminal is false off Linux: the hint it enables is a courtesy, and
// the terminal ioctl differs per system.
func IsTerminal(io.Reader) bool { return false }
