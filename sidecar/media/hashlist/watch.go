package hashlist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/internal/metricsreg"
	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

// Watcher serves one list and reloads it when its file changes (size or
// modification time, polled): the new list is decoded and indexed aside and
// swapped in atomically; a file that fails to load keeps the list in
// service, and the failure is counted and logged with its line number.
type Watcher struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	cur    atomic.Pointer[Index]

	mu       sync.Mutex // serialises reloads
	lastSize int64
	lastMod  time.Time

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewWatcher loads the list once (an error here is fatal: there is no list
// to keep) and returns a Watcher; Start polls for changes.
func NewWatcher(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, logger: logger, m: m}
	if _, err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Config is the Watcher's defaulted configuration.
func (w *Watcher) Config() Config { return w.cfg }

// Index is the list in service.
func (w *Watcher) Index() *Index { return w.cur.Load() }

// Match matches h against the list in service within the list's threshold.
func (w *Watcher) Match(h pdq.Hash) (Match, bool) {
	return w.cur.Load().Match(h, w.cfg.Threshold)
}

// Reload reads the file if its size or modification time changed since the
// last load (or if nothing is loaded yet), and swaps it in. It reports
// whether a new list went into service; on error the old one stays.
func (w *Watcher) Reload() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.cfg.Path)
	if err != nil {
		return false, w.failed(fmt.Errorf("hash list %s: %w", w.cfg.Name, err))
	}
	if w.cur.Load() != nil && fi.Size() == w.lastSize && fi.ModTime().Equal(w.lastMod) {
		return false, nil
	}
	// Remember the stat even when the load fails, so that a bad file is
	// reported once, not at every poll, until it changes again.
	w.lastSize, w.lastMod = fi.Size(), fi.ModTime()
	f, err := os.Open(w.cfg.Path)
	if err != nil {
		return false, w.failed(fmt.Errorf("hash list %s: %w", w.cfg.Name, err))
	}
	defer f.Close()
	entries, err := Decode(f, w.cfg.MinQuality, w.cfg.MaxEntries)
	if err != nil {
		return false, w.failed(fmt.Errorf("hash list %s: %s: %w", w.cfg.Name, w.cfg.Path, err))
	}
	x := NewIndex(entries)
	w.cur.Store(x)
	w.m.reloads.WithLabelValues(w.cfg.Name, "ok").Inc()
	w.m.entries.WithLabelValues(w.cfg.Name).Set(float64(x.Len()))
	w.logger.Info("hash list loaded", "list", w.cfg.Name, "entries", x.Len())
	return true, nil
}

func (w *Watcher) failed(err error) error {
	w.m.reloads.WithLabelValues(w.cfg.Name, "error").Inc()
	if w.cur.Load() != nil {
		w.logger.Error("hash list not reloaded; the previous list stays in service", "list", w.cfg.Name, "err", err)
	}
	return err
}

// Start polls the file every PollInterval until Stop or ctx's end.
func (w *Watcher) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.cfg.PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.Reload() //nolint:errcheck // counted and logged in failed
			}
		}
	}()
}

// Stop ends the polling and waits for it; safe twice and on nil.
func (w *Watcher) Stop() {
	if w == nil || w.cancel == nil {
		return
	}
	w.stopOnce.Do(func() {
		w.cancel()
		<-w.done
	})
}

type metrics struct {
	reloads *prometheus.CounterVec
	entries *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_hashlist_loads_total",
			Help: "Loads of a hash list file by list and result (ok, error: the previous list stays in service)."}, []string{"list", "result"}),
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ronda_media_hashlist_entries",
			Help: "Hashes in the list in service, by list."}, []string{"list"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs [2]error
	m.reloads, errs[0] = metricsreg.Register(reg, m.reloads)
	m.entries, errs[1] = metricsreg.Register(reg, m.entries)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("hashlist: register metrics: %w", err)
	}
	return m, nil
}
