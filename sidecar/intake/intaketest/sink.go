package intaketest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Sink records every id it takes; a hook may say busy, cut connections, or
// anything else, before the events are taken. Its Take is an intake.Sink.
type Sink struct {
	mu    sync.Mutex
	ids   []string
	seen  map[string]int
	calls atomic.Int64
	hook  atomic.Pointer[func(call int64, evs []event.Event) error]
	taken atomic.Int64
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{seen: make(map[string]int)} }

// Take is the intake.Sink: the hook first, then every id recorded.
func (s *Sink) Take(_ context.Context, evs []event.Event) error {
	n := s.calls.Add(1)
	if h := s.hook.Load(); h != nil {
		if err := (*h)(n, evs); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for i := range evs {
		s.seen[evs[i].ID]++
		s.ids = append(s.ids, evs[i].ID)
	}
	s.mu.Unlock()
	s.taken.Add(int64(len(evs)))
	return nil
}

// SetHook runs h before each call's events are taken (call counts from 1);
// an error from it is Take's. Nil removes it.
func (s *Sink) SetHook(h func(call int64, evs []event.Event) error) {
	if h == nil {
		s.hook.Store(nil)
		return
	}
	s.hook.Store(&h)
}

// Count is the number of events taken.
func (s *Sink) Count() int { return int(s.taken.Load()) }

// Times is how often id was taken.
func (s *Sink) Times(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

// CheckOnce fails unless the sink took exactly the ids want, each once, in
// the order given.
func (s *Sink) CheckOnce(t testing.TB, want []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.seen {
		if n != 1 {
			t.Errorf("id %s taken %d times", id, n)
		}
	}
	if len(s.ids) != len(want) {
		t.Fatalf("sink took %d events, want %d", len(s.ids), len(want))
	}
	for i := range want {
		if s.ids[i] != want[i] {
			t.Fatalf("event %d is %s, want %s (order)", i, s.ids[i], want[i])
		}
	}
}
