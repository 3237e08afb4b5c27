//go:build !unix

package state

// processAlive: without a way to ask, every owner may be alive.
func processAlive(int) bool { return true }
