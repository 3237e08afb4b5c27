//go:build !linux

package bolt

// lockID and stoppedHolder: only Linux says who holds a lock
// (holder_linux.go).
func lockID(int) string { return "" }

func stoppedHolder(string) (int, bool) { return 0, false }
