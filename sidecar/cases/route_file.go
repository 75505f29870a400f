package cases

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// FileRoute drops the case JSON into a directory another system collects
// from: <dir>/<key>.json, written to a temporary file, synced and renamed, so
// a reader never sees half a file. A key already there was delivered.
type FileRoute struct {
	RouteName string
	Dir       string
}

// Name is the route's name.
func (r *FileRoute) Name() string { return r.RouteName }

// Kind is "file".
func (r *FileRoute) Kind() string { return "file" }

// Send writes d once.
func (r *FileRoute) Send(_ context.Context, d Delivery) (string, error) {
	name := filepath.Join(r.Dir, d.Key+".json")
	return name, writeAtomic(r.Dir, name, d.Body)
}

// writeAtomic writes b as name in dir: a temporary file, fsync, rename,
// directory fsync. An existing name is left as it is (delivered before).
func writeAtomic(dir, name string, b []byte) error {
	if _, err := os.Stat(name); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename: nothing there
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("report file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("report file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("report file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
