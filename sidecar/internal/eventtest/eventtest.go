// Package eventtest holds what the tests of the media signal producers
// (sidecar/media/classify, sidecar/media/keyframes) share: a sink that
// records the events it takes, and a wait that polls a condition instead of
// sleeping. For tests only; nothing in a running Ronda imports it.
package eventtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Recorder records every event its Sink takes. Safe for concurrent use.
type Recorder struct {
	mu  sync.Mutex
	evs []event.Event
}

// Sink takes evs and never refuses: it has the shape of the producers' Sink.
func (r *Recorder) Sink(_ context.Context, evs []event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, evs...)
	return nil
}

// Len is how many events were taken.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

// Events returns a copy of what was taken, in order.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.evs...)
}

// BySource returns the events taken from source src, in order.
func (r *Recorder) BySource(src string) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, e := range r.evs {
		if e.Source == src {
			out = append(out, e)
		}
	}
	return out
}

// WaitLimit bounds WaitFor: generous, as the machine may be loaded; it is
// reached only when the condition never holds.
const WaitLimit = 20 * time.Second

// WaitFor polls cond until it holds: the test fails only if it never does
// (within WaitLimit).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
