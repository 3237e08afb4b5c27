package drop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
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
		if rejectedName().MatchString(n) {
			ours = append(ours, n)
		}
	}
	slices.Sort(ours)
	for i := 0; i < len(ours)-maxRejected; i++ {
		d.Remove(ours[i])
	}
	return d.Join(name), nil
}

// rejectedName matches the names KeepRejected gives. Compiled on first
// use, not at package init: every invocation links this package and
// only one that rejects its input needs it (bench/inittrace.sh).
var rejectedName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]+\.(input|env)$`)
})
