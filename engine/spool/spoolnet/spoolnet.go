// Package spoolnet is the engine's side of the spool's wake-up socket
// over package net: it binds the socket (Listen) and wraps a listener
// (Wrap) as the spool.Listener that Spool.Serve accepts on. It stands
// apart from engine/spool so that notifier-drop, which is only ever a
// client (a raw socket), links no package net and pays none of its
// start-up.
package spoolnet

import (
	"fmt"
	"net"
	"syscall"

	"notifier/engine/spool"
)

// Listen makes the wake-up socket in the spool, replacing a stale one
// (nothing answering on it) but never one an engine answers on. The
// socket is group-writable, so that the drops of the spool's group can
// connect.
func Listen(s *spool.Spool) (spool.Listener, error) {
	path, err := s.ClearSocket()
	if err != nil {
		return nil, err
	}
	// Made 0660 by the umask as it is bound, not by a chmod of its path
	// after: the spool is writable by the haclient group, and a chmod
	// would follow a link put in its place in between.
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return Wrap(l), nil
}

// Wrap makes l (say, a socket systemd passed) a spool.Listener.
func Wrap(l net.Listener) spool.Listener { return listener{l} }

type listener struct{ net.Listener }

func (l listener) Accept() (spool.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
