// Package lastgood keeps a copy of the last policy files that loaded, so
// that a run whose policy no longer loads (a typo pushed at 3 a.m.) still
// tells who must know, loudly, rather than sending every alarm to the
// local syslog. A run loads its policy through Load, which keeps the
// copy; Fallback is what a run, or a state command, uses when the files
// do not load.
//
// A kept copy decides who gets paged, so it is trusted only when this
// user made it, in a directory only this user can write (fs_linux.go),
// for this very policy path, and when its SHA-256 checksum matches its
// content. It is compiled again when used, like the files themselves.
package lastgood

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"notifier/engine"
	"notifier/engine/policy"
)

// Load reads and compiles the policy at path as a run does
// (engine.Compile) and, when it loads, keeps its files in dir (unless
// the copy there is of these very files already). dir "" keeps nothing.
func Load(path, dir string, opts policy.Options) (*engine.Policy, policy.Problems, error) {
	srcs, err := policy.ReadSources(path)
	if err != nil {
		return nil, nil, err
	}
	p, ps := engine.Compile(srcs, opts)
	if p != nil && dir != "" {
		keep(path, dir, srcs)
	}
	return p, ps, nil
}

// Fallback is the last policy from path that loaded, when the files at
// path do not (loadErr), and what a run must say about it on stderr, a
// line each: that the files do not load and which policy is used
// instead, or why a kept copy was refused (someone must look). It is nil
// when there is no copy, or none that can be trusted.
func Fallback(path, dir string, loadErr error, opts policy.Options) (*engine.Policy, []string) {
	p, kept, err := lastGood(path, dir, opts)
	var notes []string
	if err != nil {
		notes = append(notes, err.Error())
	}
	if p != nil {
		notes = append(notes, loadErr.Error(), fmt.Sprintf("using the last policy that loaded from %s (kept %s) until it is fixed", path, kept.UTC().Format(time.RFC3339)))
	}
	return p, notes
}

// lastGood compiles the copy of path's files kept in dir. It returns nil
// and no error when there is none, and nil and why when there is one
// that cannot be trusted (made from another policy, damaged, not this
// user's own) or no longer loads.
func lastGood(path, dir string, opts policy.Options) (*engine.Policy, time.Time, error) {
	if dir == "" {
		return nil, time.Time{}, nil
	}
	srcs, kept, err := read(dir, fileName(path), resolvePath(path))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("last good policy for %s not used: %w", path, err)
	}
	p, ps := engine.Compile(srcs, opts)
	if p == nil {
		return nil, time.Time{}, fmt.Errorf("last good policy for %s not used: it does not load either: %s", path, oneLine(ps.Error()))
	}
	p.LastGood = true
	return p, kept, nil
}

// oneLine joins a multi-line message.
func oneLine(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("\n"), []byte("; "))) }

// identity is what a kept copy was made from, recorded inside it: a copy
// is used only for the policy path it names.
type identity struct {
	Root  string // the policy path (file or directory), absolute, symlinks resolved
	Files []fileID
}

// fileID is one policy file of an identity.
type fileID struct {
	Name string   // as the loader named it (problems and explain show it)
	Path string   // absolute, symlinks resolved
	Sum  [32]byte // SHA-256 of the content
}

// identityOf is the identity of the policy at path, read as srcs.
func identityOf(path string, srcs []policy.Source) identity {
	id := identity{Root: resolvePath(path)}
	for _, s := range srcs {
		p := id.Root // a policy file, not a directory: resolved already
		if s.Name != path {
			p = resolvePath(s.Name)
		}
		id.Files = append(id.Files, fileID{Name: s.Name, Path: p, Sum: sha256.Sum256(s.Data)})
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

// fileName names the copy of one policy path inside the user's
// directory. The name only finds the file: what it was made from is
// checked inside it (identity).
func fileName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := fnv.New64a()
	h.Write([]byte(abs)) // not io.WriteString: its interface lookups cost a run more than the copy
	return "policy-" + hex.EncodeToString(h.Sum(nil)) + ".lastgood"
}

// keep writes srcs as the copy of path in dir, unless the copy there is
// already of exactly these files (the same resolved paths and content):
// a run reads the copy, and writes only after the policy changed.
func keep(path, dir string, srcs []policy.Source) {
	id := identityOf(path, srcs)
	name := fileName(path)
	if f, st, err := openPrivate(dir, name); err == nil {
		same := false
		if data, err := readSized(f, st); err == nil {
			if have, _, err := unseal(data); err == nil {
				same = sameFiles(have, id)
			}
		}
		f.Close()
		if same {
			return
		}
	}
	writePrivate(dir, name, seal(id, srcs))
}

// sameFiles reports whether two identities are of the same files, with
// the same content.
func sameFiles(a, b identity) bool {
	if a.Root != b.Root || len(a.Files) != len(b.Files) {
		return false
	}
	for i := range a.Files {
		if a.Files[i] != b.Files[i] {
			return false
		}
	}
	return true
}

// A kept file is: the SHA-256 of everything after it; the format; the
// identity; the files' names and contents. Numbers are uvarints, strings
// and bytes length-prefixed.
const (
	format  = "notifier-last-good-1"
	maxKept = 64 << 20
)

var errShort = errors.New("truncated")

// seal encodes what was read from path, with its checksum.
func seal(id identity, srcs []policy.Source) []byte {
	b := make([]byte, sha256.Size, sha256.Size+256)
	str := func(s []byte) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str([]byte(format))
	str([]byte(id.Root))
	b = binary.AppendUvarint(b, uint64(len(id.Files)))
	for i, f := range id.Files {
		str([]byte(f.Name))
		str([]byte(f.Path))
		str(f.Sum[:])
		str(srcs[i].Data)
	}
	sum := sha256.Sum256(b[sha256.Size:])
	copy(b, sum[:])
	return b
}

// unseal checks data's checksum, before anything in it is decoded, and
// returns what it was made from and the files.
func unseal(data []byte) (identity, []policy.Source, error) {
	var id identity
	if len(data) < sha256.Size {
		return id, nil, errShort
	}
	if sum := sha256.Sum256(data[sha256.Size:]); !bytes.Equal(sum[:], data[:sha256.Size]) {
		return id, nil, errors.New("its checksum does not match its content (damaged or altered)")
	}
	d := data[sha256.Size:]
	var err error
	num := func() uint64 {
		u, n := binary.Uvarint(d)
		if n <= 0 {
			err = errShort
			return 0
		}
		d = d[n:]
		return u
	}
	str := func() []byte {
		n := num()
		if err != nil || n > uint64(len(d)) {
			err = errShort
			return nil
		}
		s := d[:n]
		d = d[n:]
		return s
	}
	if f := string(str()); f != format {
		return id, nil, fmt.Errorf("format %q, want %q", f, format)
	}
	id.Root = string(str())
	n := num()
	if n > uint64(len(d)) {
		return id, nil, errShort
	}
	var srcs []policy.Source
	for range n {
		f := fileID{Name: string(str()), Path: string(str())}
		if sum := str(); len(sum) == len(f.Sum) {
			copy(f.Sum[:], sum)
		} else if err == nil {
			err = errors.New("bad file checksum")
		}
		content := str()
		if err != nil {
			return id, nil, err
		}
		if sha256.Sum256(content) != f.Sum {
			return id, nil, fmt.Errorf("%s: content does not match its checksum", f.Name)
		}
		id.Files = append(id.Files, f)
		srcs = append(srcs, policy.Source{Name: f.Name, Data: bytes.Clone(content)})
	}
	if err == nil && len(d) != 0 {
		err = errors.New("trailing data")
	}
	return id, srcs, err
}

// read decodes the copy called name in this user's part of dir if it was
// made from the policy at root, and says why not otherwise (fs.ErrNotExist
// when there is none). kept is when it was written.
func read(dir, name, root string) (srcs []policy.Source, kept time.Time, err error) {
	f, st, err := openPrivate(dir, name)
	if err != nil {
		return nil, kept, err
	}
	defer f.Close()
	data, err := readSized(f, st)
	if err != nil {
		return nil, kept, err
	}
	id, srcs, err := unseal(data)
	if err != nil {
		return nil, kept, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if id.Root != root {
		return nil, kept, fmt.Errorf("%s: it was made from another policy, %s", f.Name(), id.Root)
	}
	return srcs, st.ModTime(), nil
}

// readSized reads kept file f, of size st.Size() when opened, in one
// buffer of that size (not grown from small by io.ReadAll: keep reads
// the copy on every run). A size a sealed copy cannot have is an error;
// so is a file shorter than that size.
func readSized(f *os.File, st fs.FileInfo) ([]byte, error) {
	if st.Size() < sha256.Size || st.Size() > maxKept {
		return nil, fmt.Errorf("%s: size %d out of bounds", f.Name(), st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return data, nil
}

// mkdirMode makes dir with exactly mode: Mkdir's mode is cut by the umask
// (022 makes 0770 into 0750: the group could not write).
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
