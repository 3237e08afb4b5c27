package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceMakesANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if err := replace(path, []byte("a\n# rewritten\n")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if data, _ := os.ReadFile(path); string(data) != "a\n# rewritten\n" {
		t.Fatalf("content %q", data)
	}
	if os.SameFile(before, after) {
		t.Fatal("replace wrote in place; want a new file renamed over it (a new inode)")
	}
	if _, err := os.Stat(path + ".compare-tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
}
