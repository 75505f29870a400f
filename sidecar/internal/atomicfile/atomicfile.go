// Package atomicfile writes small files so that a crash or a concurrent
// reader sees either the old file or the new one whole, never half of one:
// a temporary file in the same directory, fsynced, renamed over the target,
// the directory fsynced so that the rename itself survives a power cut.
//
// It is for state and delivery files written now and then (checkpoints, the
// lever board, case drops). It must not be used for media: Ronda never writes
// media to disk.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with what write writes and returns the bytes written.
// The directory is created (0700) when missing. The temporary file is named
// ".tmp-<base>-<random>" beside path, mode 0600; on error it is removed and
// whatever was at path stays. An error syncing the directory after the rename
// is returned too: the new file is in place but may not survive a crash.
func Write(path string, write func(io.Writer) error) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	cw := &countWriter{w: f}
	err = write(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := SyncDir(dir); err != nil {
		return 0, err
	}
	return cw.n, nil
}

// WriteBytes is Write of b.
func WriteBytes(path string, b []byte) error {
	_, err := Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	return err
}

// SyncDir fsyncs directory dir, so that a rename, creation or removal in it
// is on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WriteNew writes b to path in place and fsyncs it, without a temporary file
// or rename: for a file no one reads until it is whole (a copy set aside for
// an operator), where a torn one after a crash is no worse than none. The
// directory is not synced. An existing path is truncated; mode 0600.
func WriteNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
