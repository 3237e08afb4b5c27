package drop

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"notifier/internal/safedir"
)

// RejectedDir is where input the decoders rejected is kept, beside the
// state file at statePath.
func RejectedDir(statePath string) string {
	return filepath.Join(filepath.Dir(statePath), "rejected")
}

// maxRejected bounds the rejected directory: the oldest files go first.
const maxRejected = 100

// KeepRejected stores raw input that could not be decoded in dir, so
// nothing an alarm source sent is lost, in a file named by the time and
// this process and ending in ext ("input", "env"); it returns where. Only
// files named so are pruned, oldest first, beyond the newest 100.
func KeepRejected(dir, ext string, data []byte) (string, error) {
	// Through the directory's descriptor, never a link: the state
	// directory is shared with the haclient group (safedir).
	d, err := safedir.Open(dir, true)
	if err != nil {
		return "", err
	}
	defer d.Close()
	name := fmt.Sprintf("%s-%d.%s", time.Now().UTC().Format("20060102T150405.000000000Z"), os.Getpid(), ext)
	if err := d.Create(name, data, 0o640, false); err != nil {
		return "", err
	}
	all, _ := d.Names()
	var ours []string
	for _, n := range all {
		if isRejectedName(n) {
			ours = append(ours, n)
		}
	}
	slices.Sort(ours)
	for i := 0; i < len(ours)-maxRejected; i++ {
		d.Remove(ours[i])
	}
	return d.Join(name), nil
}

// rejectedStamp is the length of the time and dash that start a name
// KeepRejected gives: 20060102T150405.000000000Z-.
const rejectedStamp = len("20060102T150405.000000000Z-")

// isRejectedName reports whether n is a name KeepRejected gives:
// ^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]+\.(input|env)$, written out
// (a test holds it to that expression) so that no invocation links
// package regexp, whose tables cost every process at start-up.
func isRejectedName(n string) bool {
	if len(n) <= rejectedStamp {
		return false
	}
	for i := range rejectedStamp {
		want := byte(0) // a digit
		switch i {
		case 8:
			want = 'T'
		case 15:
			want = '.'
		case 25:
			want = 'Z'
		case 26:
			want = '-'
		}
		if c := n[i]; (want == 0 && (c < '0' || c > '9')) || (want != 0 && c != want) {
			return false
		}
	}
	pid, ext, ok := strings.Cut(n[rejectedStamp:], ".")
	if !ok || pid == "" || (ext != "input" && ext != "env") {
		return false
	}
	for _, c := range []byte(pid) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RejectedStats counts the inputs kept in dir (at most the newest 100)
// and says when the newest was rejected; a missing dir holds none. It
// makes nothing.
func RejectedStats(dir string) (n int, newest time.Time, err error) {
	d, err := safedir.Open(dir, false)
	if safedir.IsNotExist(err) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	defer d.Close()
	names, err := d.Names()
	if err != nil {
		return 0, time.Time{}, err
	}
	last := ""
	for _, name := range names {
		if isRejectedName(name) {
			n++
			last = max(last, name)
		}
	}
	if last != "" {
		newest, _ = time.Parse("20060102T150405.000000000Z", last[:rejectedStamp-1])
	}
	return n, newest, nil
}
