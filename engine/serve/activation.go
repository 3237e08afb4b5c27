package serve

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// listenFD is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFD = 3

// Activated is the wake-up listener systemd passed when it started this
// process by socket activation (notifier.socket): LISTEN_PID names this
// process and LISTEN_FDS is at least 1, so descriptor 3 is the socket.
// Otherwise nil (the caller listens itself, Spool.Listen). env is the
// process environment; the variables are the caller's to unset, so that
// no child inherits them.
func Activated(env map[string]string) (net.Listener, error) {
	if env["LISTEN_PID"] != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	if n, err := strconv.Atoi(env["LISTEN_FDS"]); err != nil || n < 1 {
		return nil, nil
	}
	return listenerOf(listenFD)
}

// listenerOf makes a listener of the socket at descriptor fd, which it
// takes over (closed with the listener; not inherited by children).
func listenerOf(fd int) (net.Listener, error) {
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "wake.sock")
	defer f.Close() // FileListener dups it
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("socket activation: descriptor %d: %w", fd, err)
	}
	return l, nil
}
