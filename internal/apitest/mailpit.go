package apitest

// Mailpit (github.com/axllent/mailpit, a tool of tools/go.mod) is the
// SMTP server the email channel is tested against: a real one, started
// in a process of its own on 127.0.0.1 with the TLS and AUTH a test asks
// for, and read back through its HTTP API.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// ErrNoMailpit is the error (errors.Is) of a mailpit that cannot be had:
// no NOTIFIER_MAILPIT and no build from tools/go.mod.
var ErrNoMailpit = errors.New("mailpit: cannot build the SMTP test server from tools/go.mod (go -C tools mod download, then run the tests again)")

var mailpitBuild struct {
	once sync.Once
	path string
	err  error
}

// MailpitBinary returns the mailpit binary: $NOTIFIER_MAILPIT, or built
// once per process from tools/go.mod — offline: the modules must be in
// the module cache, as `go -C tools mod download` leaves them. It is
// built as `go tool` builds a tool, into the Go build cache, so that
// after the first time it is only looked up. An error wraps
// ErrNoMailpit.
func MailpitBinary() (string, error) {
	mailpitBuild.once.Do(func() {
		if p := os.Getenv("NOTIFIER_MAILPIT"); p != "" {
			mailpitBuild.path = p
			return
		}
		p, err := buildMailpit()
		if err != nil {
			mailpitBuild.err = fmt.Errorf("%w: %v", ErrNoMailpit, err)
			return
		}
		mailpitBuild.path = p
	})
	return mailpitBuild.path, mailpitBuild.err
}

// RequireMailpit skips the test when mailpit cannot be had, except
// under CI=true, where that is a failure: CI must run the SMTP tests.
func RequireMailpit(t testing.TB) {
	t.Helper()
	_, err := MailpitBinary()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true, so this is a failure)", err)
	}
	t.Log(err)
	// One fixed reason: make test's summary counts the SMTP tests under it.
	t.Skip(ErrNoMailpit.Error())
}

func buildMailpit() (string, error) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			return "", fmt.Errorf("no go command to build it: %w", err)
		}
	}
	tools, err := toolsModule()
	if err != nil {
		return "", err
	}
	// -n: build the tool (into the build cache) and print its path,
	// without running it.
	cmd := exec.Command(goBin, "-C", tools, "tool", "-n", "github.com/axllent/mailpit")
	// Never the network: the tests talk to 127.0.0.1 only.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "CGO_ENABLED=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n github.com/axllent/mailpit: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	path := strings.TrimSpace(string(out))
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return "", fmt.Errorf("go tool -n github.com/axllent/mailpit gave %q, not a program", path)
	}
	return path, nil
}

// toolsModule finds tools/ (the module whose go.mod says module
// notifier/tools): above the working directory, as tests and the demo
// run inside the repository, or else beside this source file.
func toolsModule() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			tools := filepath.Join(dir, "tools")
			if isToolsModule(filepath.Join(tools, "go.mod")) {
				return tools, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no tools/go.mod of module notifier/tools above the working directory")
}

// isToolsModule reports whether the go.mod at path is notifier/tools'.
func isToolsModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 2 && fs[0] == "module" {
			return fs[1] == "notifier/tools"
		}
	}
	return false
}
