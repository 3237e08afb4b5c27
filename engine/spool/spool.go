// Package spool is the durable queue between the drop (every invocation
// by CMON or Pacemaker) and the engine (`notifier serve`). It is
// Postfix's maildrop/pickup applied to alerts: the drop writes an entry
// the way postdrop writes into maildrop/ (a file in tmp/, fsync'd, renamed
// into new/), then wakes the engine over a socket in the spool the way
// postdrop triggers pickup over public/pickup; the engine claims entries
// the way pickup moves them into the queue manager's incoming/.
//
// Layout of a spool directory (Default, or what the caller passes):
//
//	tmp/      entries being written (never read)
//	new/      queued entries, named by their id
//	claimed/  claimed entries, named <id>.<owner>
//	bad/      entries that could not be read, each with a .reason file
//	wake.sock the engine's wake-up socket (wake.go)
//
// Invariants:
//
//   - Exit 0 means on disk: Put returns nil only after the entry's file
//     was fsync'd and renamed into new/ and new/ itself was fsync'd; no
//     step is skipped, so a kill -9 or a power cut after it loses nothing.
//     PutWake offers the entry to the engine between the rename and
//     new/'s fsync, and still returns only after that fsync: the
//     engine's claim is a rename too, atomic, so the entry is in new/ or
//     in claimed/, and a journalling file system (ext4's default, xfs)
//     commits that rename with new/'s fsync. Without a journal (ext2,
//     ext4 made without one) fsync(new/) may persist new/ without the
//     entry while claimed/ is not written: a power cut between such a
//     claim and the engine's decision can then lose the entry, so the
//     spool belongs on a journalling file system.
//   - Decided exactly once: an entry is claimed by renaming it out of new/
//     (or, in Takeover, out of a dead owner's name in claimed/); rename is
//     atomic, so of any number of claimers exactly one succeeds and the
//     others see ErrTaken. A claim is not fsync'd: if a crash undoes it the
//     entry is back in new/ and is claimed again, and the state transaction
//     that decided it records its id, so it is recognised, not decided
//     twice (that check belongs to the caller: engine/pipeline's RunEntry).
//   - Delivered at least once: an entry is deleted (Done) only after its
//     decision committed; a claimer that dies leaves it in claimed/ under
//     its owner id, and Takeover gives it to a live claimer.
//
// Owner ids are engine/state's (state.NewOwner, liveness by
// state.OwnerAlive), so an owner means the same in the outbox and here;
// this package takes them as plain strings and the liveness test as a
// function, and so links nothing of the engine into the drop.
//
// Every file operation goes through a descriptor of its directory and
// never follows a link (internal/safedir): the spool is shared by root
// (CMON) and the haclient group (Pacemaker, the engine).
package spool

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"notifier/internal/safedir"
)

// Default is where the spool is when no --spool or $NOTIFIER_SPOOL says
// otherwise.
const Default = "/var/lib/notifier/spool"

// Subdirectories of a spool.
const (
	TmpDir     = "tmp"
	NewDir     = "new"
	ClaimedDir = "claimed"
	BadDir     = "bad"
)

// entryPerm: the engine (group haclient, through the setgid spool
// directory) reads what root's and hacluster's drops write; nobody
// rewrites an entry, renames need only the directory's write bit.
const entryPerm = 0o640

// Spool is an opened spool directory. Its methods may be called from
// several goroutines at once.
type Spool struct {
	// Path is the spool directory, for messages.
	Path string

	root *safedir.Dir
	// The subdirectories, opened on first use (dir).
	tmp, new, claimed, bad *dir

	// now is the clock (tests may replace it).
	now func() time.Time
	// step, if set, is told each durability step of Put as it completes
	// (tests observe their order).
	step func(string)
	// namedOnly writes entries as named files in tmp/ even where unnamed
	// files can be made (tests and benchmarks of that path);
	// failUnnamed, if set, is what making an unnamed file fails with
	// (tests of the fallback).
	namedOnly   bool
	failUnnamed error
	// syncDir, if set, stands for a directory's fsync in put (tests make
	// it fail: ErrNotDurable).
	syncDir func(*dir) error
}

// Open opens the spool at path, making it when missing, and its
// subdirectories as they are first used (Prepare opens them now), all
// 0770, setgid, as the state directory's shared directories are; the
// directory holding path must exist (it is the state directory the
// packages make). A link or a foreign-owned directory in their place is
// refused.
func Open(path string) (*Spool, error) {
	root, err := openShared(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &Spool{Path: path, now: time.Now, root: root,
		tmp: newDir(filepath.Join(path, TmpDir)), new: newDir(filepath.Join(path, NewDir)),
		claimed: newDir(filepath.Join(path, ClaimedDir)), bad: newDir(filepath.Join(path, BadDir))}, nil
}

// Prepare opens (making them when missing) the subdirectories named
// (TmpDir, NewDir, ClaimedDir, BadDir) now rather than on first use,
// for a caller that must know the spool is usable before it reads
// anything; the error is what the first use would have reported.
func (s *Spool) Prepare(names ...string) error {
	for _, name := range names {
		var d *dir
		switch name {
		case TmpDir:
			d = s.tmp
		case NewDir:
			d = s.new
		case ClaimedDir:
			d = s.claimed
		case BadDir:
			d = s.bad
		default:
			return fmt.Errorf("spool: no subdirectory %q", name)
		}
		if _, err := d.open(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// Close releases the spool's directories.
func (s *Spool) Close() error {
	errs := []error{s.root.Close()}
	for _, d := range []*dir{s.tmp, s.new, s.claimed, s.bad} {
		errs = append(errs, d.close())
	}
	return errors.Join(errs...)
}

func (s *Spool) told(step string) {
	if s.step != nil {
		s.step(step)
	}
}

// Put writes e durably into new/: a new file in tmp/ (exclusive, never
// through a link), written, fsync'd, closed, renamed into new/, and new/
// fsync'd. It sets e's V, ID and (when zero) Received. Only a nil error
// means the entry is on disk. On an error nothing is left in new/, but
// for one wrapping ErrNotDurable: the entry is in new/, its fsync failed,
// and whoever claims it decides it once (the caller must not decide it
// beside new/).
func (s *Spool) Put(e *Entry) error {
	return s.put(e, s.new, "", true, nil)
}

// PutClaimed writes e as Put does, without the fsyncs, straight into
// claimed/ for owner: the entry of an invocation that decides it itself
// and reports success only once its decision committed — the decision's
// state transaction is the durable record then, as it was before the
// spool existed — so it saves that invocation the spool's two fsyncs
// when there is no engine to hand the entry to. The entry survives the
// death of the process (a kill -9 leaves it in the page cache, for
// Takeover), not a power cut, after which its invocation never reported
// success.
func (s *Spool) PutClaimed(e *Entry, owner string) (*Claimed, error) {
	if _, err := claimedName("", owner); err != nil {
		return nil, err
	}
	if err := s.put(e, s.claimed, owner, false, nil); err != nil {
		return nil, err
	}
	name, _ := claimedName(e.ID, owner)
	return &Claimed{Entry: *e, Name: name, Owner: owner}, nil
}

// put writes e into to (new/, or claimed/ for owner), fsync'ing the file
// and to when durable; renamed, if set, runs once the entry is in to,
// before to's fsync (PutWake).
func (s *Spool) put(e *Entry, to *dir, owner string, durable bool, renamed func()) error {
	if e.Received.IsZero() {
		e.Received = s.now()
	}
	e.V = Version
	e.ID = NewID(e.Received)
	name := e.ID
	if owner != "" {
		var err error
		if name, err = claimedName(e.ID, owner); err != nil {
			return err
		}
	}
	data, err := e.encode()
	if err != nil {
		return err
	}
	err = safedir.ErrNoUnnamed
	if !s.namedOnly {
		err = s.putUnnamed(data, to, name, durable)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// Whatever kept the unnamed file from being made or linked (no
		// such files here, no /proc, a security policy refusing the
		// link), the named file may still be written: nothing of the
		// unnamed one is left.
		if nerr := s.putNamed(data, e.ID, to, name, durable); nerr != nil && s.namedOnly {
			err = nerr
		} else if nerr != nil {
			err = fmt.Errorf("%w (and as an unnamed file: %v)", nerr, err) // one line
		} else {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("spool: writing entry: %w", err)
	}
	if renamed != nil {
		renamed()
	}
	if !durable {
		return nil
	}
	sync := (*dir).Sync
	if s.syncDir != nil {
		sync = s.syncDir
	}
	if err := sync(to); err != nil {
		// The entry is in new/ but may not survive a crash: the caller
		// must not report success, nor decide it beside new/; whoever
		// claims it decides it once.
		return fmt.Errorf("spool: %w: %w", ErrNotDurable, err)
	}
	s.told("fsync new")
	return nil
}

// putUnnamed writes data as a file that has no name until it is
// complete (and, durable, fsync'd), then links it into to as name: the
// entry appears whole or not at all, and a writer killed before the
// link leaves nothing behind. Its fsync writes the file alone, not a
// directory as well (a named file's first fsync also writes its
// directory's entry on a file system without a journal), and the link
// is one directory write where a rename out of tmp/ is two: measured,
// 45-50 µs of a drop's 440-570 (docs/BENCHMARKS.md). safedir.ErrNoUnnamed
// where unnamed files cannot be made or linked (an old kernel, a file
// system without them, no /proc): putNamed then, as after any other
// error but an existing name.
func (s *Spool) putUnnamed(data []byte, to *dir, name string, durable bool) error {
	if s.failUnnamed != nil {
		return s.failUnnamed
	}
	f, err := to.CreateUnnamed(entryPerm)
	if err != nil {
		return err
	}
	defer f.Close() // unlinked, the file is gone with it
	s.told("create")
	if _, err := f.Write(data); err != nil {
		return err
	}
	s.told("write")
	if durable {
		if err := f.Sync(); err != nil {
			return err
		}
		s.told("fsync file")
	}
	if err := to.Link(f, name); err != nil {
		return err
	}
	s.told("rename")
	return nil
}

// putNamed is putUnnamed where there are no unnamed files: a new file in
// tmp/ (exclusive, never through a link), written, fsync'd, closed and
// renamed into to.
func (s *Spool) putNamed(data []byte, id string, to *dir, name string, durable bool) error {
	f, err := s.tmp.CreateFile(id, entryPerm)
	if err != nil {
		return err
	}
	s.told("create")
	_, err = f.Write(data)
	if err == nil {
		s.told("write")
		if durable {
			err = f.Sync()
		}
	}
	if err == nil && durable {
		s.told("fsync file")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.tmp.MoveTo(id, to, name)
	}
	if err != nil {
		s.tmp.Remove(id)
		return err
	}
	s.told("rename")
	return nil
}

// NewID makes an entry id for an entry received at t: the time in
// nanoseconds (fixed width, so ids sort by receipt), this process's id
// and a random part (unique across processes). See ValidID.
func NewID(t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		// Not a receipt time (before 1970): as before, an id ValidID refuses.
		return fmt.Sprintf("%020d-%d-%s", ns, os.Getpid(), "00000000")
	}
	b := make([]byte, 0, maxIDLen)
	n := strconv.AppendInt(nil, ns, 10)
	for range 20 - len(n) {
		b = append(b, '0')
	}
	b = append(b, n...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, '-')
	r := Random4()
	return string(hex.AppendEncode(b, r[:]))
}

// Random4 is four random bytes, for the random parts of ids (NewID,
// engine/drop's NewOwner): from getrandom(2) without blocking, else
// /dev/urandom, which never blocks either. Early in boot, before the
// kernel's pool is ready, getrandom would block, and a node that comes
// up and joins its cluster raises alerts then: /dev/urandom's bytes are
// good enough to tell file names apart. All zero only if neither can be
// read, which leaves the time and process id to tell ids apart. Not
// crypto/rand: its first use costs every drop more than the read.
func Random4() [4]byte {
	var b [4]byte
	for {
		n, err := unix.Getrandom(b[:], unix.GRND_NONBLOCK)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == len(b) {
			return b
		}
		break
	}
	if f, err := os.Open("/dev/urandom"); err == nil {
		io.ReadFull(f, b[:])
		f.Close()
	}
	return b
}

// maxIDLen bounds an id: 20 digits, a pid of at most 10, 8 hex digits.
const maxIDLen = 20 + 1 + 10 + 1 + 8

// ValidID reports whether id has exactly the form NewID makes: it is the
// only thing the wake-up socket accepts, and a file name, so nothing with
// a slash, a dot or any other byte passes.
func ValidID(id string) bool {
	if len(id) > maxIDLen || len(id) < 20+1+1+1+8 {
		return false
	}
	for i := range 20 {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	if id[20] != '-' {
		return false
	}
	rest := id[21:]
	pidEnd := len(rest) - 9
	if pidEnd < 1 || pidEnd > 10 || rest[pidEnd] != '-' {
		return false
	}
	for i := range pidEnd {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	for _, c := range []byte(rest[pidEnd+1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// idTime is the receipt time an id records (see NewID).
func idTime(id string) (time.Time, bool) {
	if !ValidID(id) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(id[:20], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
