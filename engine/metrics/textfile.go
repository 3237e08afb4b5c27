package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"notifier/internal/flock"
)

// TextfileWait bounds how long a run waits for another one's update of
// the textfile: a run must not outlive its caller's timeout for its
// metrics.
const TextfileWait = time.Second

// maxTextfile bounds what is read of an existing textfile.
const maxTextfile = 4 << 20

// UpdateTextfile adds what run observed to the node_exporter textfile
// at path: its counters to the file's, its gauges in place of the
// file's. Under a lock (path + ".lock", waited for at most wait), the
// file is read, merged, written to a temporary file in its directory
// and renamed over it, so node_exporter never reads half a file. A
// missing file starts from zero (Prometheus sees a counter reset).
func UpdateTextfile(path string, run *Set, wait time.Duration) error {
	lock, err := flock.Lock(path+".lock", wait)
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	defer lock.Close()
	merged := NewSet()
	data, err := readTextfile(path)
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	old, _ := ParseText(data) // what does not parse starts again from zero
	merged.Merge(run)
	merged.reset = run.reset
	merged.Merge(old)
	var buf bytes.Buffer
	merged.WriteText(&buf)
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	return nil
}

func readTextfile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: not read or written through (remove it; notifier makes the file again)", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(&limited{f: f, n: maxTextfile})
	return buf.Bytes(), err
}

type limited struct {
	f *os.File
	n int
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("%s: over %d bytes: not a textfile notifier wrote", l.f.Name(), maxTextfile)
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= n
	return n, err
}

// writeAtomic writes data to a temporary file beside path (a name
// node_exporter does not read: it reads *.prom) and renames it over
// path. Not fsync'd: metrics are not worth a disk flush per event; a
// power cut may lose the last counts (Prometheus sees a reset).
func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // node_exporter runs as its own user
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
