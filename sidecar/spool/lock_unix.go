//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockWait bounds how long Open waits for a lock that looks held. A flock
// belongs to the open file description, and a child forked by this process
// shares it until it execs (Go opens files close-on-exec, so that is
// microseconds). A Spool closed while any goroutine of the process forks a
// child can therefore stay locked for that instant; waiting a little keeps a
// close-then-reopen from failing on it, while a Spool really held elsewhere
// still fails with ErrLocked.
const lockWait = 500 * time.Millisecond

// lockDir takes an exclusive advisory lock on path so that two processes
// (or two Spools in one process) never append to or drain one spool. The
// kernel drops the lock when the process dies, so kill -9 leaves no stale
// lock behind.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(pause)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock spool %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock spool %s: %w", path, err)
	}
	return f, nil
}
