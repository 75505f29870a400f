// Package intaketest runs real intakes for the tests of the intake and of
// its clients: a Handler served on a loopback address that goes down and
// comes back on the same port (Server), a Sink that records every id it
// takes (Sink), and lines made from the analyzer's sample of real events
// (Sample).
//
// It does not import sidecar/intake, so that intake's own tests use it as
// the forwarder's do; a *intake.Handler is a Handler and Sink.Take an
// intake.Sink. For tests only.
package intaketest

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"
)

// Two keys a test intake knows, as "k1" and "k2".
var (
	Key1 = []byte("0123456789abcdef-key-one")
	Key2 = []byte("0123456789abcdef-key-two")
)

// Chat is a valid chat event line with the given id.
func Chat(id string) string {
	return fmt.Sprintf(`{"id":%q,"type":"chat","at":"2025-06-02T13:05:00Z","stream_id":"s1","sender_id":"v1","text":"halo"}`, id)
}

// Logger discards, unless RONDA_TEST_LOG is set: a forwarder's and a
// handler's goroutines may log after a test has ended, where t.Log would
// panic.
func Logger() *slog.Logger {
	if os.Getenv("RONDA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// WaitFor polls cond until it holds; the deadline is generous, for -race on
// a busy machine, and is a failure, not a timing assertion.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
