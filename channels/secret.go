package channels

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"unicode"
)

// maxSecretSize bounds a secret file: a routing key or a webhook URL is
// short; anything bigger is the wrong file.
const maxSecretSize = 64 << 10

// ReadSecret returns the secret given inline or, preferably, in file
// (surrounding whitespace trimmed). Errors name the field and the file,
// never the content.
func ReadSecret(field, inline, file string) (string, error) {
	if file == "" {
		if inline == "" {
			return "", fmt.Errorf("%s: no secret given (set %s_file)", field, field)
		}
		return inline, nil
	}
	b, err := readSecretFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s_file %q is empty", field, file)
	}
	return s, nil
}

// readSecretFile reads a secret file without ever blocking: it must be
// a regular file (a FIFO would hang the run until the deadline, a link
// to /dev/zero would never end), opened without waiting for a writer,
// and is read up to maxSecretSize. Errors name the path, as os's do.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, kind(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretSize {
		return nil, fmt.Errorf("%s: more than %d bytes, more than a secret can be", path, maxSecretSize)
	}
	return b, nil
}

// unwrapPath drops the path a *fs.PathError repeats: the caller already
// names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// CheckToken reports a secret that cannot go into an HTTP header or a
// URL as it is: white space or control characters inside it (a file
// holding two lines, a key pasted with a line break). It never quotes
// the secret.
func CheckToken(field, secret string) error {
	for _, r := range secret {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s: contains white space or a control character (a line break?)", field)
		}
	}
	return nil
}

// SecretFileProblems is what `lint --check-secrets` says about one
// secret file, each a reason the channel cannot or must not use it.
// check validates the content as the channel will use it, read the
// way the channel reads it (ReadSecret); nil checks nothing more.
// Nothing returned holds the content.
func SecretFileProblems(path string, check func(secret string) error) (errs []string) {
	lst, err := os.Lstat(path)
	if err != nil {
		return []string{strings.TrimPrefix(err.Error(), "lstat ")}
	}
	st, err := os.Stat(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: a symbolic link to nothing usable: %v", path, unwrapPath(err))}
	}
	if !st.Mode().IsRegular() {
		return []string{fmt.Sprintf("%s: not a regular file (%s); the run would refuse it", path, kind(st.Mode()))}
	}
	if st.Mode().Perm()&0o004 != 0 {
		errs = append(errs, fmt.Sprintf("%s is readable by every user (mode %04o); chmod o-r it", path, st.Mode().Perm()))
	}
	if lst.Mode()&fs.ModeSymlink != 0 {
		if e := linkOwner(lst, st); e != "" {
			errs = append(errs, path+": "+e)
		}
	}
	b, err := readSecretFile(path)
	if err != nil {
		return append(errs, strings.TrimPrefix(err.Error(), "open "))
	}
	s := strings.TrimSpace(string(b))
	switch {
	case s == "":
		errs = append(errs, path+" is empty")
	case check != nil:
		if err := check(s); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", path, err))
		}
	}
	return errs
}
