package spool

import (
	"net"
	"syscall"
)

// Listen binds the wake-up socket as spoolnet.Listen does (it imports
// this package, so these tests cannot use it; its own tests hold it to
// what the engine needs).
func (s *Spool) Listen() (Listener, error) {
	path, err := s.ClearSocket()
	if err != nil {
		return nil, err
	}
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	return testListener{l}, nil
}

type testListener struct{ net.Listener }

func (l testListener) Accept() (Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
