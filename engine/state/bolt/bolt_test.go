package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"notifier/engine/state"
	"notifier/engine/state/bolt"
	"notifier/engine/state/storetest"
)

func openTestBolt(t testing.TB, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) state.Store {
		return openTestBolt(t, filepath.Join(t.TempDir(), "state.db"))
	})
}

// TestBoltBatchConformance: a batching store (the resident engine's)
// keeps every promise an unbatched one does.
func TestBoltBatchConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) state.Store {
		s, err := bolt.OpenOptions(filepath.Join(t.TempDir(), "state.db"), bolt.Options{Batch: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// boltIncrement adds one to the decimal counter in record id.
func boltIncrement(ctx context.Context, s state.Store, id string) error {
	return s.Update(ctx, []string{id}, func(m map[string]*state.Record) error {
		n := 0
		if r := m[id]; r != nil {
			var err error
			if n, err = strconv.Atoi(string(r.Data)); err != nil {
				return err
			}
		}
		m[id] = &state.Record{Data: []byte(strconv.Itoa(n + 1))}
		return nil
	})
}

const boltChildEnv = "NOTIFIER_TEST_BOLT_CHILD" // set: this process is a child of TestBoltProcesses

// TestBoltProcesses is the Pacemaker storm in small: separate processes,
// all started at once, incrementing one counter in one file. Any lost
// update (two processes in the file at once) shows as a short count.
func TestBoltProcesses(t *testing.T) {
	const procs, each = 20, 20
	if path := os.Getenv(boltChildEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s := openTestBolt(t, path)
		for range each {
			if err := boltIncrement(ctx, s, "counter"); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBoltProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), boltChildEnv+"="+path)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i].Bytes())
		}
	}
	m, err := openTestBolt(t, path).View(context.Background(), []string{"counter"})
	if err != nil {
		t.Fatal(err)
	}
	if r := m["counter"]; r == nil || string(r.Data) != strconv.Itoa(procs*each) {
		t.Fatalf("counter = %+v, want %d: lost updates between processes", r, procs*each)
	}
}

// TestBoltFileModes: the directory is shared by root and the haclient
// group, so both files must be group-writable whatever the umask.
func TestBoltFileModes(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "state.db")
	if err := boltIncrement(context.Background(), openTestBolt(t, path), "k"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o660 {
			t.Errorf("%s mode = %v, want -rw-rw----", p, fi.Mode().Perm())
		}
	}
}

// TestBoltReadCreatesNothing: notifier explain may run where the state
// was never written, or as a user who may only read; reading creates no
// files.
func TestBoltReadCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openTestBolt(t, filepath.Join(dir, "state.db"))
	ctx := context.Background()
	if m, err := s.View(ctx, []string{"k"}); err != nil || len(m) != 0 {
		t.Fatalf("View = %v, %v; want empty", m, err)
	}
	if m, err := s.Scan(ctx, ""); err != nil || len(m) != 0 {
		t.Fatalf("Scan = %v, %v; want empty", m, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("reading created %v", ents)
	}
}

func TestBoltClosed(t *testing.T) {
	s := openTestBolt(t, filepath.Join(t.TempDir(), "state.db"))
	s.Close()
	if err := boltIncrement(context.Background(), s, "k"); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Update after Close = %v, want ErrUnavailable", err)
	}
}

// TestBoltUnusable: every way the file cannot be used is one line that
// names the file and wraps ErrUnavailable, so the caller fails open and
// the operator knows what to fix; nothing is overwritten.
func TestBoltUnusable(t *testing.T) {
	root := os.Geteuid() == 0
	garbage := bytes.Repeat([]byte("not bbolt "), 1000)
	for _, tc := range []struct {
		name     string
		asRoot   bool // root bypasses permissions: the case cannot fail as root
		setup    func(t *testing.T, path string)
		want     []string // in the message
		wantErr  error
		readsErr bool // View fails too (not just Update)
	}{{
		name:    "read-only directory",
		setup:   func(t *testing.T, path string) { chmodTest(t, filepath.Dir(path), 0o555) },
		want:    []string{"state: lock ", ".lock: permission denied (is it writable by the user running notifier, e.g. hacluster for Pacemaker?)"},
		wantErr: fs.ErrPermission,
	}, {
		name: "unwritable file",
		setup: func(t *testing.T, path string) {
			if err := boltIncrement(context.Background(), openTestBolt(t, path), "k"); err != nil {
				t.Fatal(err)
			}
			chmodTest(t, path, 0)
		},
		want:     []string{"state: open ", "state.db: permission denied (is it writable by"},
		wantErr:  fs.ErrPermission,
		readsErr: true,
	}, {
		name:   "not a state file",
		asRoot: true,
		setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, garbage, 0o660); err != nil {
				t.Fatal(err)
			}
		},
		want:     []string{"state: open ", "state.db: invalid database (not a notifier state file, or damaged: move it aside and a new one is started)"},
		wantErr:  bbolt.ErrInvalid,
		readsErr: true,
	}, {
		name:   "lock file is a directory",
		asRoot: true,
		setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path+".lock", 0o770); err != nil {
				t.Fatal(err)
			}
		},
		want:    []string{"state: lock ", "state.db.lock: is a directory"},
		wantErr: syscall.EISDIR,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if root && !tc.asRoot {
				t.Skip("root bypasses file permissions")
			}
			path := filepath.Join(t.TempDir(), "state.db")
			tc.setup(t, path)
			before, _ := os.ReadFile(path)
			s := openTestBolt(t, path)
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("%s = %v, want ErrUnavailable and %v", op, err, tc.wantErr)
				}
				msg := err.Error()
				for _, w := range append(tc.want, path) {
					if !strings.Contains(msg, w) {
						t.Errorf("%s error %q does not contain %q", op, msg, w)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("%s error is not one line: %q", op, msg)
				}
			}
			check("Update", boltIncrement(context.Background(), s, "k"))
			if _, err := s.View(context.Background(), []string{"k"}); tc.readsErr {
				check("View", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("the file was changed")
			}
		})
	}
}

// TestBoltReadOnlyReader: an operator who may read the state but not
// write it (notifier explain) can still View and Scan; Update fails.
func TestBoltReadOnlyReader(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses file permissions")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	if err := boltIncrement(ctx, openTestBolt(t, path), "k"); err != nil {
		t.Fatal(err)
	}
	chmodTest(t, path, 0o444)
	chmodTest(t, path+".lock", 0o444)
	chmodTest(t, filepath.Dir(path), 0o555)
	s := openTestBolt(t, path)
	if m, err := s.View(ctx, []string{"k"}); err != nil || m["k"] == nil || string(m["k"].Data) != "1" {
		t.Fatalf("View = %v, %v; want k = 1", m, err)
	}
	if m, err := s.Scan(ctx, ""); err != nil || len(m) != 1 {
		t.Fatalf("Scan = %v, %v; want k", m, err)
	}
	if err := boltIncrement(ctx, s, "k"); !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Update = %v, want ErrUnavailable and ErrPermission", err)
	}
}

func TestBoltMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "state.db")
	_, err := bolt.Open(path)
	if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open = %v, want ErrUnavailable and ErrNotExist", err)
	}
	want := fmt.Sprintf("state: open %s: directory %s: no such file or directory "+
		"(the installer creates it, writable by the user running notifier, e.g. hacluster for Pacemaker)", path, dir)
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created %s", dir)
	}
}

func chmodTest(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o700) }) // let t.TempDir remove it
}

// BenchmarkBoltUpdate is one decision's cost on the embedded store:
// lock, open, transaction, two fsyncs, close, unlock.
func BenchmarkBoltUpdate(b *testing.B) {
	s := openTestBolt(b, filepath.Join(b.TempDir(), "state.db"))
	ctx := context.Background()
	for b.Loop() {
		if err := boltIncrement(ctx, s, "w/rule/key"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltUpdateParallel: many goroutines taking turns, as the
// processes of a storm do (each with its own open file description).
func BenchmarkBoltUpdateParallel(b *testing.B) {
	s := openTestBolt(b, filepath.Join(b.TempDir(), "state.db"))
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := boltIncrement(ctx, s, "w/rule/key"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkUpdateParallel: the resident engine's workers each updating
// a record of its own at once (8 goroutines per CPU), unbatched (each Update its own lock, open,
// transaction and commit) and batched (group commit). commits/op is the
// share of Updates that paid a commit and its fsyncs.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, tc := range []struct {
		name string
		o    bolt.Options
	}{
		{"unbatched", bolt.Options{}},
		{"batched", bolt.Options{Batch: true}},
		{"batched-delay2ms", bolt.Options{Batch: true, BatchDelay: 2 * time.Millisecond}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := bolt.OpenOptions(filepath.Join(b.TempDir(), "state.db"), tc.o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 CPUs, as the engine's 16 workers
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprintf("w/rule/key%d", n.Add(1))
				for pb.Next() {
					if err := boltIncrement(ctx, s, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(bolt.Commits(s))/float64(b.N), "commits/op")
		})
	}
}

// BenchmarkBoltView is what notifier explain pays per read.
func BenchmarkBoltView(b *testing.B) {
	s := openTestBolt(b, filepath.Join(b.TempDir(), "state.db"))
	ctx := context.Background()
	if err := boltIncrement(ctx, s, "w/rule/key"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.View(ctx, []string{"w/rule/key"}); err != nil {
			b.Fatal(err)
		}
	}
}
