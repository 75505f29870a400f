package adapters

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is how often one adapter logs one kind of trouble: a media
// server configured with a wrong secret sends a hook per publish, and the
// log must stay readable (the counter has every one).
const logEvery = time.Minute

// logThrottle lets one warning per key through per window and counts the
// ones it holds back, which the next line that gets through reports as
// suppressed.
type logThrottle struct {
	log    *slog.Logger
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*throttled
}

type throttled struct {
	last       time.Time
	suppressed int
}

func newLogThrottle(log *slog.Logger, window time.Duration, now func() time.Time) *logThrottle {
	return &logThrottle{log: log, window: window, now: now, keys: map[string]*throttled{}}
}

// warn logs msg with args unless a line with the same key got through less
// than a window ago. The keys are a fixed set (adapter and result), so the
// map does not grow with traffic.
func (t *logThrottle) warn(key, msg string, args ...any) {
	now := t.now()
	t.mu.Lock()
	k, ok := t.keys[key]
	if !ok {
		k = &throttled{}
		t.keys[key] = k
	}
	if ok && now.Sub(k.last) < t.window {
		k.suppressed++
		t.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	t.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	t.log.Log(context.Background(), slog.LevelWarn, msg, args...)
}
