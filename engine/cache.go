package engine

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"time"
)

// LoadCached is Load with a snapshot cache in dir: when neither the
// policy files nor the binary changed since the snapshot was written, the
// snapshot is used and nothing is read, parsed or compiled. Otherwise the
// policy is compiled as usual and, when it has no errors, a new snapshot
// is written. "Changed" is judged by file identity (device, inode, size,
// modification and status-change times in nanoseconds): any write or
// replacement of a file changes its ctime, which no tool can set back.
// The cache is an optimisation only: any problem with it (missing or
// unwritable dir, foreign or corrupt file) falls back to compiling,
// silently. dir "" disables it.
func LoadCached(path, dir string, opts LoadOptions) (*Policy, Problems, error) {
	key, ok := cacheKey(path)
	if dir == "" || !ok {
		return Load(path, opts)
	}
	file := cacheFile(dir, path)
	if p := readSnapshot(file, key, false); p != nil {
		return p, nil, nil
	}
	p, ps, err := Load(path, opts)
	if p != nil {
		writeSnapshot(file, key, p)
	}
	return p, ps, err
}

// LastGood returns the last policy from path that loaded, as its snapshot
// in dir kept it, when the current files do not load: a typo pushed at
// 3 a.m. must not turn every alarm into a syslog line. Only a snapshot
// written by this very binary is used. It returns nil when there is none.
func LastGood(path, dir string) (*Policy, time.Time) {
	if dir == "" {
		return nil, time.Time{}
	}
	_, ok := exeKey()
	if !ok {
		return nil, time.Time{}
	}
	file := cacheFile(dir, path)
	p := readSnapshot(file, snapKey{}, true)
	if p == nil {
		return nil, time.Time{}
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, time.Time{}
	}
	p.LastGood = true
	return p, st.ModTime()
}

// exeKey identifies the running binary alone.
func exeKey() (key snapKey, ok bool) {
	h := fnv.New128a()
	io.WriteString(h, snapshotFormat+"\x00")
	exe, err := os.Stat("/proc/self/exe")
	if err != nil || !writeIdentity(h, exe) {
		return key, false
	}
	copy(key[:], h.Sum(nil))
	return key, true
}

// snapKey is a snapshot's identity: a hash of the identities of the
// binary and the policy files. It detects change, it does not
// authenticate (ownership does that, see readSnapshot), so a fast
// non-cryptographic hash will do; sha256's first use alone cost 20µs.
type snapKey [16]byte

// cacheKey identifies the running binary and every policy file that path
// names, without reading them. ok is false where identities cannot be
// had (then nothing is cached).
func cacheKey(path string) (key snapKey, ok bool) {
	h := fnv.New128a()
	io.WriteString(h, snapshotFormat+"\x00")
	exe, err := os.Stat("/proc/self/exe")
	if err != nil || !writeIdentity(h, exe) {
		return key, false
	}
	st, err := os.Stat(path)
	if err != nil {
		return key, false
	}
	files := []string{path}
	if st.IsDir() {
		writeIdentity(h, st) // entries added or removed
		if files, err = policyFiles(path); err != nil {
			return key, false
		}
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return key, false
		}
		io.WriteString(h, f+"\x00")
		if !writeIdentity(h, st) {
			return key, false
		}
	}
	copy(key[:], h.Sum(nil))
	return key, true
}

// cacheFile names the snapshot of one policy path.
func cacheFile(dir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := fnv.New64a()
	io.WriteString(h, abs)
	sum := h.Sum(nil)
	// One file per user: CMON runs as root, Pacemaker as hacluster, and
	// neither may run a snapshot the other wrote (see readSnapshot).
	return filepath.Join(dir, fmt.Sprintf("policy-%s-%d.snapshot", hex.EncodeToString(sum), os.Geteuid()))
}

// readSnapshot reads a snapshot written for key, or, with anyPolicy, the
// one there is provided this binary wrote it.
func readSnapshot(file string, key snapKey, anyPolicy bool) *Policy {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	// A snapshot decides who gets paged: only one this user wrote, and
	// that nobody else can write to, is trusted. (The cache directory is
	// shared with the haclient group, which must not be able to make
	// root's runs drop alarms.)
	st, err := f.Stat()
	const head = 2 * len(snapKey{}) // the policy's key, then the binary's
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o022 != 0 || !ownedByMe(st) ||
		st.Size() < int64(head) || st.Size() > 64<<20 {
		return nil
	}
	data := make([]byte, st.Size()) // one allocation: this is every run's path
	if _, err := io.ReadFull(f, data); err != nil {
		return nil
	}
	if anyPolicy {
		exe, ok := exeKey()
		if !ok || !bytes.Equal(data[len(key):head], exe[:]) {
			return nil
		}
	} else if !bytes.Equal(data[:len(key)], key[:]) {
		return nil
	}
	p, err := decodeSnapshot(data[head:])
	if err != nil {
		return nil
	}
	return p
}

// MkdirShared makes dir for the users that share the state directory —
// root (CMON) and hacluster (Pacemaker), through its group — whatever the
// umask: 0770, setgid so what is made in it keeps the group. An existing
// dir is left as it is.
func MkdirShared(dir string) error {
	if err := os.Mkdir(dir, 0o770); err != nil {
		return err
	}
	// Mkdir's mode is cut by the umask (022 makes it 0750: the group could
	// not write): the mode is set explicitly.
	return os.Chmod(dir, 0o770|os.ModeSetgid)
}

// writeSnapshot replaces the snapshot atomically, so concurrent runs (one
// per Pacemaker recipient) see the old one or the new one, never half.
func writeSnapshot(file string, key snapKey, p *Policy) {
	data, err := encodeSnapshot(p)
	exe, ok := exeKey()
	if err != nil || !ok {
		return
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, ".policy-*.tmp")
	// The cache dir itself may be made, its parent not: where the state
	// directory lives is the installer's choice (and its permissions).
	if os.IsNotExist(err) && MkdirShared(dir) == nil {
		tmp, err = os.CreateTemp(dir, ".policy-*.tmp")
	}
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	head := append(key[:len(key):len(key)], exe[:]...)
	_, err = tmp.Write(append(head, data...))
	if err2 := tmp.Chmod(0o640); err == nil {
		err = err2
	}
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		os.Rename(tmp.Name(), file)
	}
}
