//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestPackage checks the installation the .deb made (e2e/setup.sh
// installed it with dpkg): the binary, the policy as a conffile that
// lints clean, the state directory Pacemaker's hacluster can write, and
// the flush timer.
func TestPackage(t *testing.T) {
	conffiles, err := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "notifier").Output()
	if err != nil || !strings.Contains(string(conffiles), "/etc/notifier/notifier.yaml") {
		t.Errorf("conffiles %q (%v): want /etc/notifier/notifier.yaml", conffiles, err)
	}
	files := []struct {
		path string
		mode os.FileMode
		gid  int // -1: root's group is not required
	}{
		{"/usr/bin/notifier", 0o755, 0},
		{"/etc/notifier/notifier.yaml", 0o644, 0},
		{"/var/lib/notifier", os.ModeDir | os.ModeSetgid | 0o770, haclient(t)},
		{"/lib/systemd/system/notifier-flush.service", 0o644, 0},
		{"/lib/systemd/system/notifier-flush.timer", 0o644, 0},
	}
	for _, f := range files {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != f.mode || sys.Uid != 0 || int(sys.Gid) != f.gid {
			t.Errorf("%s: mode %v owner %d:%d, want %v root:%d", f.path, st.Mode(), sys.Uid, sys.Gid, f.mode, f.gid)
		}
	}
	if res := notifier(t, nil, "version"); res.code != 0 || !strings.Contains(res.out, "notifier") {
		t.Errorf("notifier version: exit %d: %s", res.code, res.out)
	}
	if res := notifier(t, nil, "lint", "--strict", "/etc/notifier/notifier.yaml"); res.code != 0 {
		t.Errorf("the installed policy does not lint clean: %s", res.out)
	}
	timer, _ := os.ReadFile("/lib/systemd/system/notifier-flush.timer")
	service, _ := os.ReadFile("/lib/systemd/system/notifier-flush.service")
	if !strings.Contains(string(service), "/usr/bin/notifier flush") || !strings.Contains(string(timer), "notifier-flush.service") && !strings.Contains(string(timer), "[Timer]") {
		t.Errorf("flush units:\n%s\n%s", service, timer)
	}
}

// TestPackageEngine checks what the packages install for the drop and the
// engine: notifier-drop beside notifier, the engine's unprivileged user
// in group haclient, and the systemd units that start the engine on the
// first wake-up (notifier.socket on the spool's wake-up socket, for the
// haclient group) and let it exit when idle (notifier.service, 10 min).
func TestPackageEngine(t *testing.T) {
	st, err := os.Stat(installedDrop)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); st.Mode() != 0o755 || sys.Uid != 0 || sys.Gid != 0 {
		t.Errorf("%s: mode %v owner %d:%d, want -rwxr-xr-x root:root", installedDrop, st.Mode(), sys.Uid, sys.Gid)
	}
	u, err := user.Lookup("notifier")
	if err != nil {
		t.Errorf("the packages' user for the engine: %v", err)
	} else if groups, err := u.GroupIds(); err != nil || !slices.Contains(groups, strconv.Itoa(haclient(t))) {
		t.Errorf("user notifier is in groups %v (%v), want haclient among them", groups, err)
	}
	socket, err := os.ReadFile("/lib/systemd/system/notifier.socket")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ListenStream=" + defaultSpool + "/wake.sock", "SocketMode=0660"} {
		if !strings.Contains(string(socket), want) {
			t.Errorf("notifier.socket lacks %q:\n%s", want, socket)
		}
	}
	// Pacemaker's invocations (hacluster, group haclient) connect: the
	// socket's group is haclient, named, or the primary group of the
	// user that owns it.
	if !strings.Contains(string(socket), "SocketGroup=haclient") {
		if !strings.Contains(string(socket), "SocketUser=notifier") || u == nil || u.Gid != strconv.Itoa(haclient(t)) {
			t.Errorf("notifier.socket: its group is not haclient (neither SocketGroup=haclient nor SocketUser=notifier, whose group is haclient):\n%s", socket)
		}
	}
	service, err := os.ReadFile("/lib/systemd/system/notifier.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/usr/bin/notifier serve", "10m", "User=notifier"} {
		if !strings.Contains(string(service), want) {
			t.Errorf("notifier.service lacks %q:\n%s", want, service)
		}
	}
}
