//go:build unix

package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesForeignDir: a spool directory that its group or everyone may
// write (the shared /tmp itself, or one made there with 0777), or that another
// user owns, is refused with an error that says why; a missing one is created
// 0700 and accepted.
func TestOpenRefusesForeignDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	open := func(dir string) error {
		s, err := Open(Options{Dir: dir})
		if err == nil {
			s.Close()
		}
		return err
	}

	fresh := filepath.Join(base, "fresh", "spool")
	if err := open(fresh); err != nil {
		t.Fatalf("a missing directory: %v", err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created with %v (%v), want 0700", fi.Mode().Perm(), err)
	}

	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	err := open(shared)
	if err == nil || !strings.Contains(err.Error(), "writable by its group or by everyone") || !strings.Contains(err.Error(), "0777") {
		t.Errorf("a 0777 directory: %v, want a refusal naming the mode", err)
	}
	if _, statErr := os.Stat(filepath.Join(shared, lockName)); !errors.Is(statErr, os.ErrNotExist) {
		t.Error("a refused directory was written to")
	}
	if err := os.Chmod(shared, 0o1777); err != nil { // /tmp's own mode
		t.Fatal(err)
	}
	if err := open(shared); err == nil {
		t.Error("a sticky world-writable directory (like /tmp) accepted")
	}
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := open(shared); err != nil {
		t.Errorf("a 0755 directory of this user's: %v", err)
	}

	if os.Geteuid() != 0 {
		// Without root no directory can be given away; one of root's is
		// another user's here.
		if err := open("/"); err == nil || !strings.Contains(err.Error(), "owned by uid 0") {
			t.Errorf("root's directory: %v, want a refusal naming its owner", err)
		}
		return
	}
	foreign := filepath.Join(base, "foreign")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := open(foreign); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("a directory of uid 65534: %v, want a refusal naming its owner", err)
	}
}
