package analyzer

import (
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Engine is the analyzer: it takes events in event-time order and returns the
// alerts they raise or update. It is not safe for concurrent use; the caller owns
// the goroutine (replay runs it inline, the live service behind one channel).
type Engine struct {
	cfg Config
	now time.Time
	// OnSignal, when set, receives every signal a detector raises.
	OnSignal func(Signal)
}

// Stats describes the engine's state, for progress lines, metrics and the
// memory benchmark.
type Stats struct {
	Events        uint64
	Streams       int // live stream entries
	Hosts         int
	Accounts      int
	Devices       int
	Places        int
	Networks      int
	Clusters      int
	OpenAlerts    int
	Evicted       uint64
	AlertsEmitted uint64
	SignalsRaised uint64
}

// LiveEntities is the number of entities the engine holds now.
func (s Stats) LiveEntities() int {
	return s.Streams + s.Hosts + s.Accounts + s.Devices + s.Places + s.Networks
}

// New returns an engine with cfg, which must validate.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg}, nil
}

// Apply feeds one event and returns the alerts it raised or updated, in a slice
// the caller owns.
func (e *Engine) Apply(ev *event.Event) []Alert {
	if ev.At.After(e.now) {
		e.now = ev.At
	}
	return nil
}

// Advance moves event time forward without an event (the live service calls it
// on a timer so idle streams end); it returns any alerts that raises.
func (e *Engine) Advance(to time.Time) []Alert {
	if to.After(e.now) {
		e.now = to
	}
	return nil
}

// Flush ends the input: open streams are closed at their last event and every
// pending evaluation runs. It returns the alerts that raises.
func (e *Engine) Flush() []Alert { return nil }

// Stats reports the engine's current state.
func (e *Engine) Stats() Stats { return Stats{} }
