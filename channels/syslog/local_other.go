//go:build windows || plan9

package syslog

import (
	"fmt"
	"runtime"
)

// dialLocal fails: log/syslog does not exist here. Remote addresses
// still work.
func dialLocal(path string, facility int, tag string) (localWriter, error) {
	return nil, fmt.Errorf("local syslog is not available on %s; use a udp://, tcp:// or tls:// address", runtime.GOOS)
}
