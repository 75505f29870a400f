package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/spool"
	"github.com/ronda-watch/ronda/sidecar/store"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// TestReplayKilledWhileSpooling: the Ronda process is killed -9 while
// ClickHouse is away and batches go to the spool; a second process (a replay of
// an empty file: the writer drains the spool before it writes anything) must
// deliver exactly the batches the first one spooled, each row once; a third, a
// full replay with the same spool, completes the record, and FINAL shows every
// kept event exactly once although the raw table holds copies.
func TestReplayKilledWhileSpooling(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: starts ClickHouse and three ronda processes; skipped with -short")
	}
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	bin := ronda(t)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	world := filepath.Join(dir, "world.ndjson")
	runRonda(t, 30*time.Second, bin, nil, "simulate", "--seed", "11", "--days", "3", "--hosts", "60", "--rings", "1", "--out", world)
	lines, kept := readWorld(t, world)
	t.Logf("world: %d lines, %d events of kept types", len(lines), len(kept))

	s := chtest.Start(t)
	dsn := s.DSN()
	s.Stop() // ClickHouse away: everything the replay writes must spool

	// 1. Replay from stdin, fed half the world at once and the rest slowly, so
	// the process is still working when it is killed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "replay", "--in", "-", "--clickhouse", dsn, "--clickhouse-spool", spoolDir)
	var stderr syncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		first := len(lines) / 5
		if _, err := stdin.Write(bytes.Join(lines[:first], nil)); err != nil {
			return
		}
		for i := first; i < len(lines); i += 40 {
			if _, err := stdin.Write(bytes.Join(lines[i:min(i+40, len(lines))], nil)); err != nil {
				return // killed
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	// Kill once a second batch is being spooled: the spool grows past its
	// first record (the age flush spools a batch a second while the feed lasts).
	deadline := time.Now().Add(30 * time.Second)
	var firstBytes int64
	for {
		n := spoolBytes(t, spoolDir)
		if firstBytes == 0 {
			firstBytes = n
		} else if n > firstBytes {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("spool did not grow past %d bytes in 30s; stderr:\n%s", firstBytes, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	werr := cmd.Wait()
	stdin.Close()
	<-feedDone
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Fatalf("replay ended before the kill (%v); stderr:\n%s", werr, stderr.String())
	}
	if !strings.Contains(stderr.String(), "clickhouse unreachable at start") {
		t.Errorf("no warning about the unreachable server; stderr:\n%s", stderr.String())
	}
	t.Logf("killed with %d spool bytes on disk", spoolBytes(t, spoolDir))

	// What the killed process had acknowledged: read a copy of its spool (Open
	// recovers it: a record torn by the kill is cut off, never delivered).
	spooled, other, st := readSpoolCopy(t, spoolDir, filepath.Join(dir, "spool-copy"))
	t.Logf("spool after the kill: %d records, %d event rows, %d other rows; torn tail records cut at recovery: %d (%d bytes)",
		st.Drained, len(spooled), other, st.TornRecords, st.TornBytes)
	if len(spooled) == 0 {
		t.Fatal("no event rows in the spool")
	}
	if st.Quarantined != 0 {
		t.Errorf("kill -9 left a damaged segment: %+v", st)
	}
	// Batches are spooled in event order, so the spool holds a prefix of the
	// kept events, each once.
	if !slices.Equal(spooled, kept[:min(len(spooled), len(kept))]) {
		t.Fatalf("spooled event ids are not the first %d kept events of the input in order", len(spooled))
	}

	// 2. ClickHouse back; a process that only drains: a replay of an empty file.
	s.Restart(t)
	empty := filepath.Join(dir, "empty.ndjson")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	runRonda(t, 60*time.Second, bin, nil, "replay", "--in", empty, "--clickhouse", dsn, "--clickhouse-spool", spoolDir)
	if n := spoolRecords(t, spoolDir); n != 0 {
		t.Errorf("%d records left in the spool after the drain", n)
	}
	got := ids(t, s, "SELECT id FROM ronda.events FINAL ORDER BY at, id")
	if !slices.Equal(sortedCopy(got), sortedCopy(spooled)) {
		t.Fatalf("after the drain: %d event rows (FINAL), want the %d the killed process spooled", len(got), len(spooled))
	}
	if raw := count(t, s, "SELECT count() FROM ronda.events"); raw != len(spooled) {
		t.Errorf("after the drain: %d raw rows, want %d: a batch was delivered twice", raw, len(spooled))
	}
	t.Logf("drained: %d event rows, each once", len(got))

	// 3. The full replay with the same spool. Merges stopped, so the copies of
	// the drained prefix stay visible without FINAL.
	if _, err := s.Client("SYSTEM STOP MERGES"); err != nil {
		t.Logf("SYSTEM STOP MERGES not supported (%v): copies may already be merged away", err)
	}
	runRonda(t, 60*time.Second, bin, nil, "replay", "--in", world, "--clickhouse", dsn, "--clickhouse-spool", spoolDir)
	final := ids(t, s, "SELECT id FROM ronda.events FINAL")
	if !slices.Equal(sortedCopy(final), sortedCopy(kept)) {
		t.Fatalf("after the full replay: %d event rows (FINAL), want every one of the %d kept events once", len(final), len(kept))
	}
	raw := count(t, s, "SELECT count() FROM ronda.events")
	dups := count(t, s, "SELECT count() FROM (SELECT id FROM ronda.events GROUP BY id HAVING count() > 1)")
	t.Logf("full replay: %d kept events, FINAL %d rows, raw %d rows, %d ids with copies without FINAL", len(kept), len(final), raw, dups)
	if raw < len(final) {
		t.Errorf("raw %d rows below FINAL %d", raw, len(final))
	}
	if raw > len(final) && dups == 0 {
		t.Errorf("raw rows exceed FINAL but no id has copies")
	}
}

// runRonda runs the binary with a bound and fails the test on a non-zero exit.
func runRonda(t *testing.T, limit time.Duration, bin string, stdin io.Reader, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ronda %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return errb.String()
}

// readWorld returns the input's lines and the ids of its events of kept types, in order.
func readWorld(t *testing.T, path string) (lines [][]byte, kept []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		line := append(slices.Clone(sc.Bytes()), '\n')
		lines = append(lines, line)
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("line %d: %v", len(lines), err)
		}
		if store.Keep(event.ParseType(ev.Type)) {
			if seen[ev.ID] {
				t.Fatalf("input repeats id %s", ev.ID)
			}
			seen[ev.ID] = true
			kept = append(kept, ev.ID)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, kept
}

// spoolBytes sums the segment files in dir.
func spoolBytes(t *testing.T, dir string) int64 {
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var n int64
	for _, p := range m {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// spoolRecords opens the spool (after its process ended) and counts records.
func spoolRecords(t *testing.T, dir string) int {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	return sp.Len()
}

// readSpoolCopy copies the spool directory and drains the copy: the event
// ids in order and the count of other rows.
func readSpoolCopy(t *testing.T, src, dst string) (eventIDs []string, other int, st spool.Stats) {
	t.Helper()
	st = drainSpoolCopy(t, src, dst, func(table string, raw json.RawMessage) error {
		var rows []struct{ ID string }
		if err := json.Unmarshal(raw, &rows); err != nil {
			return err
		}
		if table != store.TableEvents {
			other += len(rows)
			return nil
		}
		for _, r := range rows {
			eventIDs = append(eventIDs, r.ID)
		}
		return nil
	})
	return eventIDs, other, st
}

func ids(t *testing.T, s *chtest.Server, q string) []string {
	t.Helper()
	out, err := s.Client(q)
	if err != nil {
		t.Fatal(err)
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func count(t *testing.T, s *chtest.Server, q string) int {
	t.Helper()
	out, err := s.Client(q)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("%s: %q", q, out)
	}
	return n
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
