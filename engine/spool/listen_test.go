package spool

import "net"

// Listen is spoolnet.Listen, which imports this package, so these tests
// cannot use it (its own tests hold it to what the engine needs).
func (s *Spool) Listen() (Listener, error) {
	return s.ListenWith(func(path string) (Listener, error) {
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		return ListenerOf[net.Conn](l), nil
	})
}
