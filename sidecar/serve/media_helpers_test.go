package serve

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The media tests through the service share these steps: a goroutine check
// that runs after everything else stopped, a secret read from a variable
// of the test's own, and a record of the stream.wire events and key frames
// the service hands its hooks.

// leakCheckLast registers the test's goroutine check as its first cleanup,
// so that it runs last: after the service and the test's servers and peers
// stopped, with the default client's idle connections closed.
// The goroutines running when it is called are ignored (taken then, not at
// the end, which would ignore every goroutine the test left).
func leakCheckLast(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

// withSecret has the service read value for the variable name, and the
// test environment (getenv) for every other.
func withSecret(name, value string) func(*Options) {
	return func(o *Options) {
		o.Getenv = func(k string) string {
			if k == name {
				return value
			}
			return getenv(k)
		}
	}
}

// wireRecord keeps the stream.wire events the service sends (OnWire) and
// counts the key frames that reach its key frame hook (OnKeyframe), by
// "stream codec". Read wires and keyframes under mu.
type wireRecord struct {
	mu        sync.Mutex
	wires     []event.Event
	keyframes map[string]int
}

// hooks sets the service's OnWire and OnKeyframe to fill w.
func (w *wireRecord) hooks(o *Options) {
	w.keyframes = map[string]int{}
	o.OnWire = func(ev event.Event) {
		w.mu.Lock()
		w.wires = append(w.wires, ev)
		w.mu.Unlock()
	}
	o.OnKeyframe = func(streamID, codec string, _ []byte, _ time.Time) {
		w.mu.Lock()
		w.keyframes[streamID+" "+codec]++
		w.mu.Unlock()
	}
}
