package metrics

import "notifier/internal/flock"

// lockedFor holds the textfile's lock from when it closes held until
// release is closed.
func lockedFor(path string, held, release chan struct{}) error {
	f, err := flock.Lock(path+".lock", 0)
	if err != nil {
		close(held)
		return err
	}
	close(held)
	<-release
	return f.Close()
}
