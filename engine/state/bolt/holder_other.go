//go:build !linux

package bolt

import "os"

// stoppedHolder: only Linux says who holds a lock (holder_linux.go).
func stoppedHolder(*os.File) (int, bool) { return 0, false }
