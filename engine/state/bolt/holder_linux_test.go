package bolt

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const stoppedHolderEnv = "NOTIFIER_TEST_STOPPED_HOLDER"

// A lock held by a stopped process (a resident engine stopped with
// SIGSTOP inside a transaction) is not waited for: the wait gives up at
// its next look, naming the process, instead of after the stall bound.
// The child takes the lock and stops itself.
func TestLockHeldByStoppedProcess(t *testing.T) {
	if path := os.Getenv(stoppedHolderEnv); path != "" {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		}
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		select {} // until killed
	}
	path := filepath.Join(t.TempDir(), "state.db.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHeldByStoppedProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), stoppedHolderEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	for deadline := time.Now().Add(time.Minute); !processStopped(cmd.Process.Pid); {
		if time.Now().After(deadline) {
			t.Fatal("the child never stopped")
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var pending sync.WaitGroup
	f, err := lockFile(ctx, path, true, &pending)
	var held *lockHeldError
	if !errors.As(err, &held) || held.stopped != cmd.Process.Pid {
		if f != nil {
			f.Close()
		}
		t.Fatalf("lockFile: %v, want the lock held by the stopped process %d", err, cmd.Process.Pid)
	}
	if pid, ok := stoppedHolder(lockID(int(mustOpen(t, path).Fd()))); !ok || pid != cmd.Process.Pid {
		t.Errorf("stoppedHolder = %d, %v", pid, ok)
	}

	// Running again, it is waited for as any holder is.
	cmd.Process.Signal(syscall.SIGCONT)
	for deadline := time.Now().Add(time.Minute); processStopped(cmd.Process.Pid); {
		if time.Now().After(deadline) {
			t.Fatal("the child never continued")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := stoppedHolder(lockID(int(mustOpen(t, path).Fd()))); ok {
		t.Error("a running holder counts as stopped")
	}
	cmd.Process.Kill()
	cmd.Wait()
	pending.Wait()
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
