//go:build !unix

package spool

import (
	"fmt"
	"os"
)

// checkDirOwner checks only that dir is a directory: ownership and mode bits
// are Unix notions (Windows directories get their ACL from the parent).
func checkDirOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
