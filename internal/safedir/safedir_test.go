package safedir

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The rejected/ and pending directories are shared by root and hacluster
// through the group: a umask of 022 must not leave the group read-only.
func TestMkdirSharedIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "rejected")
	if err := MkdirShared(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := os.ModeDir | os.ModeSetgid | 0o770; st.Mode() != want {
		t.Errorf("mode %v, want %v", st.Mode(), want)
	}
	if err := MkdirShared(dir); !os.IsExist(err) {
		t.Errorf("second MkdirShared: %v, want exists", err)
	}
}
