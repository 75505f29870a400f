//go:build unix

package spool

import (
	"fmt"
	"os"
	"syscall"
)

// checkDirOwner refuses a directory that another user owns, or that its group
// or everyone may write: whoever can write there can read what is spooled,
// plant segments that are delivered as this service's records, or swap the
// directory for a symlink. A spool under the shared temporary directory
// (/tmp) is where this matters most.
func checkDirOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := os.Geteuid(); int(st.Uid) != uid {
			return fmt.Errorf("%s is owned by uid %d, not by this process's user (uid %d): another user could read or plant spooled records; use a directory of this user's (created with mode 0700)",
				dir, st.Uid, uid)
		}
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or by everyone (mode %04o): another user could plant spooled records; chmod go-w it, or use a directory created with mode 0700",
			dir, m)
	}
	return nil
}
