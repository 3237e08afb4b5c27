package channels

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadSecretRefusesWhatIsNotAFile: a secret file that is a named
// pipe (or a link to one, or to a device) must fail at once; reading it
// blocked the run until its deadline.
func TestReadSecretRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{pipe, link, dir} {
		_, err := ReadSecret("routing_key", "", path)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadSecret(%s) = %v, want not a regular file", path, err)
		}
	}
}

func TestCheckToken(t *testing.T) {
	for in, ok := range map[string]bool{"xoxb-1-abc": true, "abc\ndef": false, "abc def": false, "abc\x00": false, "abc\u2028d": false} {
		if err := CheckToken("token", in); (err == nil) != ok || (err != nil && strings.Contains(err.Error(), "abc")) {
			t.Errorf("CheckToken(%q) = %v, want ok %v and no content", in, err, ok)
		}
	}
}
