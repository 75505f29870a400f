//go:build !unix

package wal

import (
	"errors"
	"os"
)

// ErrLocked: another process (or Log) has the directory open.
var ErrLocked = errors.New("intake log directory in use")

func lockDir(path string) (*os.File, error) { return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) }
