// Package spoolnet is the engine's side of the spool's wake-up socket
// over package net: it binds the socket (Listen) and wraps a listener
// (Wrap) as the spool.Listener that Spool.Serve accepts on. It stands
// apart from engine/spool so that notifier-drop, which is only ever a
// client (a raw socket), links no package net and pays none of its
// start-up.
package spoolnet

import (
	"net"

	"notifier/engine/spool"
)

// Listen makes the wake-up socket in the spool (Spool.ListenWith): a
// stale one is replaced, a live engine's never; group-writable.
func Listen(s *spool.Spool) (spool.Listener, error) {
	return s.ListenWith(listenUnix)
}

// listenUnix binds a unix socket at path.
func listenUnix(path string) (spool.Listener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	return Wrap(l), nil
}

// Wrap makes l (say, a socket systemd passed) a spool.Listener.
func Wrap(l net.Listener) spool.Listener { return spool.ListenerOf[net.Conn](l) }
