package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

const (
	helperEnv    = "RONDA_SPOOL_HELPER"
	helperDirEnv = "RONDA_SPOOL_HELPER_DIR"
	helperNoSync = "RONDA_SPOOL_HELPER_NOSYNC"
)

// crashOpts are the options of both the helper child and the parent.
func crashOpts(dir string) Options {
	return Options{Dir: dir, SegmentBytes: 1 << 20, NoSync: os.Getenv(helperNoSync) != ""}
}

// crashSize varies record sizes up to 192 KiB, so a kill often lands in the
// middle of a write.
func crashSize(i int) int { return 8 + (i*7919)%(192<<10) }

// TestHelperProcess is not a test: it is the child that the crash tests
// start and kill -9. In mode "append" it appends records 0, 1, ... with
// fsync and prints each index once Append has returned (the record is
// durable). In mode "drain" it drains and prints each index inside fn,
// before acknowledging it.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for the crash tests")
	}
	s, err := Open(crashOpts(os.Getenv(helperDirEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "append":
		for i := 0; ; i++ {
			if err := s.Append(record(i, crashSize(i))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Println(i) // os.Stdout is unbuffered: one write per line
		}
	case "drain":
		err := s.Drain(context.Background(), func(rec []byte) error {
			fmt.Println(index(t, rec))
			return nil
		})
		fmt.Fprintln(os.Stderr, "drain ended:", err)
		os.Exit(3)
	}
}

// runAndKill starts the helper in mode, reads its lines until it has
// printed after, kills it with SIGKILL and returns every index it printed.
func runAndKill(t *testing.T, dir, mode string, after int, noSync bool) []int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir)
	if noSync {
		cmd.Env = append(cmd.Env, helperNoSync+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []int
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		i, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue // "PASS" and the like cannot come before the kill
		}
		got = append(got, i)
		if len(got) == after && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended after %d lines without being killed: %v", len(got), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die of SIGKILL: %v", err)
	}
	return got
}

// TestCrashWhileAppending kills a process that appends, then checks that
// every record it reported durable is there exactly once and in order, and
// that a torn tail, if any, is counted as torn, not as corrupt. Half the
// rounds append with fsync, as in production; the other half without, which
// spends the child's time in write(2) and so tears the tail more often
// (kill -9 does not lose the page cache, so NoSync records still count as
// durable here).
func TestCrashWhileAppending(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	const rounds = 8
	torn := 0
	for round := range rounds {
		dir := t.TempDir()
		noSync := round%2 == 1
		acked := runAndKill(t, dir, "append", 50+round*30, noSync)
		if !slices.Equal(acked, seq(0, len(acked))) {
			t.Fatalf("round %d: child reported %v", round, acked)
		}
		s, err := Open(crashOpts(dir))
		if err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.Corrupt != 0 || st.Quarantined != 0 {
			t.Fatalf("round %d: kill -9 reported as corruption: %+v", round, st)
		}
		got := drainAll(t, s)
		// The record after the last one printed may have been durable
		// before the kill; nothing else may be there.
		if !slices.Equal(got, seq(0, len(got))) || len(got) < len(acked) || len(got) > len(acked)+1 {
			t.Fatalf("round %d: child acked 0..%d, spool has %d records: %v", round, len(acked)-1, len(got), got[max(0, len(got)-3):])
		}
		torn += int(st.TornRecords)
		t.Logf("round %d (NoSync %v): acked %d, recovered %d, torn tail %d bytes", round, noSync, len(acked), len(got), st.TornBytes)
		s.Close()
	}
	t.Logf("%d of %d kills left a torn tail", torn, rounds)
}

// TestCrashWhileDraining kills a process in the middle of a Drain, then
// checks that the restart offers again at most the record that was being
// drained, and everything after it.
func TestCrashWhileDraining(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(crashOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	for i := range n {
		if err := s.Append(record(i, crashSize(i)/8)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	delivered := runAndKill(t, dir, "drain", 150, false)
	if !slices.Equal(delivered, seq(0, len(delivered))) {
		t.Fatalf("child drained %v", delivered)
	}
	last := len(delivered) - 1
	s, err = Open(crashOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := drainAll(t, s)
	if len(got) == 0 || (got[0] != last && got[0] != last+1) || !slices.Equal(got, seq(got[0], n)) {
		t.Fatalf("child delivered 0..%d, restart offered %d..%d", last, got[0], got[len(got)-1])
	}
	t.Logf("child delivered 0..%d, restart began at %d", last, got[0])
}
