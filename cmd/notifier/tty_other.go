//go:build !linux

package main

import "io"

// isTerminal is false off Linux: the hint it enables is a courtesy, and
// the terminal ioctl differs per system.
func isTerminal(io.Reader) bool { return false }
