package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"notifier/internal/flock"
	"notifier/internal/safedir"
)

// TextfileWait bounds how long a run waits for another one's update of
// the textfile: a run must not outlive its caller's timeout for its
// metrics.
const TextfileWait = time.Second

// RewriteEvery is how often the textfile is rewritten from its journal
// at the most, by the runs (notifier flush rewrites it every time).
const RewriteEvery = 10 * time.Second

// maxTextfile bounds what is read of the textfile and of its journal;
// a journal past maxJournal is folded into the textfile at once.
const (
	maxTextfile = 4 << 20
	maxJournal  = 1 << 20
)

// appliedMark is the textfile's comment line saying the last journal
// block folded into it.
const appliedMark = "# notifier journal applied "

// A run does not rewrite the textfile: rewriting it (a temporary file
// renamed over it) costs about 0.7 ms on ext4, which forces the new
// file's blocks out when it replaces another — most of what metrics
// would cost an in-process run. It appends what it counted, as one
// block numbered from the lock file, to the journal beside the
// textfile (path + ".journal", O_APPEND: one write); the textfile is
// rewritten from the journal when its last rewrite is RewriteEvery old
// (by whichever run comes then, or the flush timer's), and says the
// last block it holds, so a crash between its rename and the journal's
// truncation counts nothing twice.

// TextfileDue says the textfile at path is to be rewritten at now: it
// does not exist, its last rewrite is RewriteEvery old (or in the
// future: a clock set back), or its journal has grown past maxJournal.
// A stat or two, without the lock: the caller reads the gauges, if it
// is, before it takes the lock, and rewrites (UpdateTextfile).
func TextfileDue(path string, now time.Time) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return true
	}
	if age := now.Sub(fi.ModTime()); age >= RewriteEvery || age < 0 {
		return true
	}
	jfi, err := os.Lstat(path + ".journal")
	return err == nil && jfi.Size() >= maxJournal
}

// UpdateTextfile adds what run observed to the node_exporter textfile
// at path: its counters to the file's, its gauges in place of the
// file's, families it Reset replaced whole. Under a lock (path +
// ".lock", waited for at most wait): with rewrite, the textfile is
// rewritten from its journal and run; else run is appended to the
// journal (and the textfile rewritten when that cannot be).
func UpdateTextfile(path string, run *Set, wait time.Duration, rewrite bool) error {
	lock, err := flock.Lock(path+".lock", wait)
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	defer lock.Close()
	jpath := path + ".journal"
	if seq, err := readSeq(lock); err == nil && !rewrite {
		// The number is taken before the block is written: a block is
		// never written under a number the lock file does not move
		// past (a lock file this user may not write: an error here).
		if err := writeSeq(lock, seq+1); err != nil {
			return fmt.Errorf("metrics textfile: %s: %w", lock.Name(), err)
		}
		if err := appendBlock(jpath, seq, run); err == nil {
			return nil
		}
		// The journal cannot be written: the textfile is, now.
	}
	if err := rewriteFile(path, jpath, run, lock); err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	return nil
}

// rewrite folds the journal and run into the textfile: renamed over
// it, then the journal emptied.
func rewriteFile(path, jpath string, run *Set, lock *os.File) error {
	data, err := safedir.ReadFile(path, maxTextfile)
	if err != nil {
		return err
	}
	acc, _ := ParseText(data) // what does not parse starts again from zero
	applied := appliedOf(data)
	jdata, err := safedir.ReadFile(jpath, maxJournal*2)
	if err != nil {
		return err
	}
	last := applied
	for _, b := range blocks(jdata) {
		if b.seq <= applied {
			continue // folded in before a crash kept the journal
		}
		s, _ := ParseText(b.data)
		s.Merge(acc)
		acc, last = s, max(last, b.seq)
	}
	merged := NewSet()
	merged.Merge(run)
	merged.reset = run.reset
	merged.Merge(acc)
	// A policy path that no longer exists (removed, renamed) says
	// nothing of a policy in use: its last value would stand for ever.
	for k, se := range merged.fams[PolicyLastGood] {
		if _, err := os.Stat(se.labels[0]); errors.Is(err, fs.ErrNotExist) {
			delete(merged.fams[PolicyLastGood], k)
		}
	}
	var buf bytes.Buffer
	merged.WriteText(&buf)
	fmt.Fprintf(&buf, "%s%d\n", appliedMark, last)
	// The next block's number first: past what the textfile will hold,
	// or nothing is renamed (a block numbered below would be skipped).
	if err := writeSeq(lock, last+1); err != nil {
		return fmt.Errorf("%s: %w", lock.Name(), err)
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	if err := os.Truncate(jpath, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err // the textfile says what it holds: nothing counted twice
	}
	return nil
}

type block struct {
	seq  uint64
	data []byte
}

// blocks splits a journal into its blocks ("@SEQ" lines, each followed
// by its samples); a block cut short by a crash keeps the lines it has.
func blocks(data []byte) []block {
	var out []block
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(line) > 1 && line[0] == '@' {
			if n, err := strconv.ParseUint(string(line[1:]), 10, 64); err == nil {
				out = append(out, block{seq: n})
				continue
			}
		}
		if len(out) > 0 {
			b := &out[len(out)-1]
			b.data = append(append(b.data, line...), '\n')
		}
	}
	return out
}

func appliedOf(data []byte) uint64 {
	i := bytes.LastIndex(data, []byte(appliedMark))
	if i < 0 {
		return 0
	}
	line, _, _ := bytes.Cut(data[i+len(appliedMark):], []byte("\n"))
	n, _ := strconv.ParseUint(string(line), 10, 64)
	return n
}

// appendBlock appends run as block seq to the journal, in one write.
// The block starts on a line of its own, whatever a write cut short
// before it left; a write that fails is taken back (the textfile is then
// rewritten with run: it must not count a part of it twice).
func appendBlock(jpath string, seq uint64, run *Set) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "\n@%d\n", seq)
	run.writeSamples(&buf)
	f, err := os.OpenFile(jpath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o660)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s is a symbolic link: not written through", jpath)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		// Made now, maybe by this process: the group writes it too
		// (root's CMON and flush, Pacemaker's hacluster), whatever the
		// umask. Only its owner may, and need, set it.
		f.Chmod(0o660)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Truncate(fi.Size())
		return err
	}
	return nil
}

// readSeq is the next journal block's number, kept in the lock file.
func readSeq(f *os.File) (uint64, error) {
	b := make([]byte, 24)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b[:n])), 10, 64)
}

func writeSeq(f *os.File, seq uint64) error {
	s := fmt.Sprintf("%-20d\n", seq) // fixed width: no truncate needed
	_, err := f.WriteAt([]byte(s), 0)
	return err
}

// ReadTextfile is what the textfile at path holds with its journal
// folded in, read without the lock and without writing anything.
func ReadTextfile(path string) (*Set, error) {
	data, err := safedir.ReadFile(path, maxTextfile)
	if err != nil {
		return nil, err
	}
	acc, _ := ParseText(data)
	applied := appliedOf(data)
	jdata, err := safedir.ReadFile(path+".journal", maxJournal*2)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks(jdata) {
		if b.seq > applied {
			s, _ := ParseText(b.data)
			s.Merge(acc)
			acc = s
		}
	}
	return acc, nil
}

// writeAtomic writes data to a temporary file beside path (a name
// node_exporter does not read: it reads *.prom) and renames it over
// path. Not fsync'd: metrics are not worth a disk flush; a power cut may
// lose the last counts (Prometheus sees a reset).
func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link: not written through (remove it; notifier makes the file again)", path)
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
