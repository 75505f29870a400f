//go:build unix

package wal

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked: another process (or Log) has the directory open.
var ErrLocked = errors.New("intake log directory in use")

// lockDir takes an exclusive advisory lock, dropped by the kernel when the
// process dies, so kill -9 leaves no stale lock.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wal: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("wal: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("wal: lock %s: %w", path, err)
	}
	return f, nil
}
