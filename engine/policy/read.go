package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Source is one policy file's name and content.
type Source struct {
	Name string
	Data []byte
}

// ReadSources reads a policy path: a file, or a directory meaning every
// *.yaml and *.yml in it in lexical order.
func ReadSources(path string) ([]Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policy %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		if files, err = policyFiles(path); err != nil {
			return nil, err
		}
	}
	srcs := make([]Source, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return nil, fmt.Errorf("policy %w (is it readable by the user running notifier?)", err)
			}
			return nil, fmt.Errorf("policy %w", err)
		}
		srcs = append(srcs, Source{Name: f, Data: data})
	}
	return srcs, nil
}

// policyFiles lists the policy files of a directory in lexical order.
func policyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy %w", err)
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("policy directory %s: no *.yaml or *.yml files", dir)
	}
	return files, nil
}
