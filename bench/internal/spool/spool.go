// Package spool is the drop's durable write as bench/dropfloor and
// bench/droponly do it (issue 11's drop, not yet built): the bytes go to a
// temp file under DIR/tmp/, fsynced, renamed into DIR/new/, and new/ is
// fsynced. It imports only os and path/filepath so that linking it adds
// no package init of its own to the binaries it measures.
package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write spools data under dir durably: the rename makes the file appear
// in new/ whole or not at all, the fsyncs make it survive a crash once
// Write returns. It returns the path in new/.
func Write(dir string, data []byte) (string, error) {
	tmpDir, newDir := filepath.Join(dir, "tmp"), filepath.Join(dir, "new")
	f, err := os.CreateTemp(tmpDir, "ev-*")
	if os.IsNotExist(err) {
		// Only the first run pays for making the directories.
		if err = os.MkdirAll(tmpDir, 0o700); err == nil {
			if err = os.MkdirAll(newDir, 0o700); err == nil {
				f, err = os.CreateTemp(tmpDir, "ev-*")
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("create temp: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", f.Name(), err)
	}
	final := filepath.Join(newDir, filepath.Base(f.Name()))
	if err := os.Rename(f.Name(), final); err != nil {
		return "", fmt.Errorf("rename into new/: %w", err)
	}
	d, err := os.Open(newDir)
	if err != nil {
		return "", fmt.Errorf("open new/: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return "", fmt.Errorf("fsync new/: %w", err)
	}
	return final, nil
}
