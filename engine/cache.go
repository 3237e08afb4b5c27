package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"notifier/engine/policy"
)

// LoadCached is Load with a snapshot cache in dir: when the snapshot was
// made by this binary from exactly the policy files read now (the same
// resolved paths, the same SHA-256 of every file's content), it is used
// and nothing is parsed or compiled. Otherwise the policy is compiled as
// usual and, when it has no errors, a new snapshot is written. The cache
// is an optimisation only: any problem with it (missing or unwritable
// dir, foreign, swapped or corrupt file) falls back to compiling,
// silently. dir "" disables it.
func LoadCached(path, dir string, opts policy.Options) (*Policy, policy.Problems, error) {
	srcs, err := policy.ReadSources(path)
	if err != nil {
		return nil, nil, err
	}
	exe, ok := exeKey()
	if dir == "" || !ok {
		p, ps := Compile(srcs, opts)
		return p, ps, nil
	}
	id := identityOf(path, srcs)
	name := cacheName(path)
	if p, _, err := readSnapshot(dir, name, exe, id, true); err == nil {
		return p, nil, nil
	}
	p, ps := Compile(srcs, opts)
	if p != nil {
		if body, err := encodeSnapshot(p); err == nil {
			writePrivate(dir, name, sealSnapshot(exe, id, body))
		}
	}
	return p, ps, nil
}

// LastGood returns the last policy from path that loaded, as its snapshot
// in dir kept it, when the current files do not load: a typo pushed at
// 3 a.m. must not turn every alarm into a syslog line. Only a snapshot
// this binary made from this very policy path (resolved) is used; its
// content may be older than the files, that is the point. It returns nil
// and no error when there is none, and nil and why when there is one
// that cannot be trusted (made from another policy, damaged, not this
// user's own), which the caller must say.
func LastGood(path, dir string) (*Policy, time.Time, error) {
	exe, ok := exeKey()
	if dir == "" || !ok {
		return nil, time.Time{}, nil
	}
	want := policyID{Root: resolvePath(path)}
	p, kept, err := readSnapshot(dir, cacheName(path), exe, want, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("last good policy for %s not used: %w", path, err)
	}
	p.LastGood = true
	return p, kept, nil
}

// exeKey identifies the running binary: a snapshot depends on expr's
// bytecode layout, which any other build may change.
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

// snapKey identifies the binary. It detects change, it does not
// authenticate (the binary is root's, and the snapshot's checksum and
// ownership guard the rest), so a fast non-cryptographic hash will do.
type snapKey [16]byte

// policyID is what a snapshot was made from, recorded inside it: a
// snapshot is used only for the policy it names.
type policyID struct {
	Root  string // the policy path (file or directory), absolute, symlinks resolved
	Files []fileID
}

// fileID is one policy file of a policyID.
type fileID struct {
	Name string   // as the loader named it (problems and explain show it)
	Path string   // absolute, symlinks resolved
	Sum  [32]byte // SHA-256 of the content
}

// identityOf is the identity of the policy at path, read as srcs.
func identityOf(path string, srcs []policy.Source) policyID {
	id := policyID{Root: resolvePath(path)}
	for _, s := range srcs {
		id.Files = append(id.Files, fileID{Name: s.Name, Path: resolvePath(s.Name), Sum: sha256.Sum256(s.Data)})
	}
	return id
}

// resolvePath makes path absolute and resolves its symlinks, so that one
// policy reached two ways is one; as much as can be when it is gone.
func resolvePath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}

// cacheName names the snapshot of one policy path inside the user's
// cache directory. The name only finds the file: what it was made from is
// checked inside it (policyID).
func cacheName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := fnv.New64a()
	io.WriteString(h, abs)
	return "policy-" + hex.EncodeToString(h.Sum(nil)) + ".snapshot"
}

// A snapshot file is: the SHA-256 of everything after it; a header (the
// format, the binary's key, the policyID); zeros to an 8-byte boundary;
// the encoded policy (encodeSnapshot).
const (
	sumSize      = sha256.Size
	maxSnapshot  = 64 << 20
	headerFormat = snapshotFormat + "+sealed"
)

// sealSnapshot frames body with what it was made from and its checksum.
func sealSnapshot(exe snapKey, id policyID, body []byte) []byte {
	e := enc{b: make([]byte, sumSize, sumSize+256+len(body))}
	e.str(headerFormat)
	e.bytes(exe[:])
	e.str(id.Root)
	e.uint(uint64(len(id.Files)))
	for _, f := range id.Files {
		e.str(f.Name)
		e.str(f.Path)
		e.bytes(f.Sum[:])
	}
	for len(e.b)%8 != 0 { // the body's words are used in place, aligned
		e.b = append(e.b, 0)
	}
	e.b = append(e.b, body...)
	sum := sha256.Sum256(e.b[sumSize:])
	copy(e.b, sum[:])
	return e.b
}

// unsealSnapshot checks data's checksum, before anything in it is
// decoded, and returns its header and body.
func unsealSnapshot(data []byte) (exe []byte, id policyID, body []byte, err error) {
	if len(data) < sumSize {
		return nil, id, nil, errShortSnapshot
	}
	if sum := sha256.Sum256(data[sumSize:]); !bytes.Equal(sum[:], data[:sumSize]) {
		return nil, id, nil, errors.New("its checksum does not match its content (damaged or altered)")
	}
	d := dec{b: data[sumSize:], n: len(data) - sumSize}
	if f := d.str(); f != headerFormat {
		return nil, id, nil, fmt.Errorf("format %q, want %q", f, headerFormat)
	}
	exe, id.Root = d.bytes(), d.str()
	id.Files = make([]fileID, d.count())
	for i := range id.Files {
		f := &id.Files[i]
		f.Name, f.Path = d.str(), d.str()
		if sum := d.bytes(); len(sum) == len(f.Sum) {
			copy(f.Sum[:], sum)
		} else if d.err == nil {
			d.err = errors.New("snapshot header: bad file checksum")
		}
	}
	start := (len(data) - len(d.b) + 7) &^ 7
	if d.err == nil && start > len(data) {
		d.err = errShortSnapshot
	}
	if d.err != nil {
		return nil, id, nil, d.err
	}
	return exe, id, data[start:], nil
}

// mismatch says why a snapshot made by exe from have does not serve want
// (exact: the same files and content; else the same policy path), or "".
func mismatch(exe []byte, have policyID, key snapKey, want policyID, exact bool) string {
	switch {
	case !bytes.Equal(exe, key[:]):
		return "it was made by another build of notifier"
	case have.Root != want.Root:
		return "it was made from another policy, " + have.Root
	case !exact:
		return ""
	case len(have.Files) != len(want.Files):
		return "the policy's files changed"
	}
	for i := range have.Files {
		if have.Files[i] != want.Files[i] {
			return "the policy's files changed"
		}
	}
	return ""
}

// readSnapshot decodes the snapshot called name in this user's part of
// dir if it was made by this binary from want, and says why not
// otherwise (fs.ErrNotExist when there is none). kept is when it was
// written.
func readSnapshot(dir, name string, key snapKey, want policyID, exact bool) (p *Policy, kept time.Time, err error) {
	f, st, err := openPrivate(dir, name)
	if err != nil {
		return nil, kept, err
	}
	defer f.Close()
	if st.Size() < sumSize || st.Size() > maxSnapshot {
		return nil, kept, fmt.Errorf("%s: size %d out of bounds", f.Name(), st.Size())
	}
	data := make([]byte, st.Size()) // one allocation: this is every run's path
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, kept, fmt.Errorf("%s: %w", f.Name(), err)
	}
	exe, have, body, err := unsealSnapshot(data)
	if err != nil {
		return nil, kept, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if why := mismatch(exe, have, key, want, exact); why != "" {
		return nil, kept, fmt.Errorf("%s: %s", f.Name(), why)
	}
	if p, err = decodeSnapshot(body); err != nil {
		return nil, kept, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return p, st.ModTime(), nil
}

// MkdirShared makes dir for the users that share the state directory —
// root (CMON) and hacluster (Pacemaker), through its group — whatever the
// umask: 0770, setgid so what is made in it keeps the group. An existing
// dir is left as it is.
func MkdirShared(dir string) error {
	return mkdirMode(dir, 0o770|os.ModeSetgid)
}

// mkdirMode makes dir with exactly mode: Mkdir's mode is cut by the umask
// (022 makes 0770 into 0750: the group could not write).
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
