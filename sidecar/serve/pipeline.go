package serve

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
)

// pipeline is the one goroutine that owns the analyzer. Intake paths hand it
// batches through sink, which never blocks: a full queue answers
// intake.ErrBusy and the sender retries. Events are analysed in arrival order;
// the analyzer takes a slightly late event at its own current time (events from
// several senders interleave by a few milliseconds), and an event from a clock
// too far ahead is recorded but not analysed, so it cannot age everyone else's state.
type pipeline struct {
	in     chan batch
	queued atomic.Int64
	limit  int64
	// inMu orders the intake log like the queue: a batch is numbered in the
	// log and queued under it (durable.go), so replay applies batches in
	// the order the live analyzer did.
	inMu sync.Mutex

	eng          *analyzer.Engine
	recordBusy   func() bool          // the record is not keeping up: refuse new batches
	onEvent      func(*event.Event)   // the record (writer), before analysis
	onAlert      func(analyzer.Alert) // the record and the moderators
	maxFuture    time.Duration
	advanceEvery time.Duration
	now          func() time.Time
	log          *slog.Logger
	m            *pipelineMetrics

	calls chan func(*analyzer.Engine)
	done  chan struct{} // closed when run returns
	// evNow is the newest event time analysed and evWall the wall time it
	// arrived: idle advances move event time on by the wall time since.
	evNow, evWall time.Time
	dropped       uint64 // the engine's Stats.HandoverMarksDropped at the last advance
	zonesFallback uint64 // the engine's Stats.ZonesFallback at the last advance
	futureLogged  int
	// applied is the intake log seq of the last batch analysed: a
	// checkpoint's position.
	applied uint64
	// current is the intake log seq of the batch being analysed, or of the
	// last: a moderator's action taken now has seen its alerts (actionlog.go).
	current atomic.Uint64
}

// batch is one intake request's events, with the wall time at which intake
// took it (the analyzer's "now" for it, kept in the intake log so that a
// replay decides as the live run did) and its seq in the intake log (0: no log).
type batch struct {
	evs  []event.Event
	wall time.Time
	seq  uint64
}

type pipelineMetrics struct {
	queued   prometheus.GaugeFunc
	events   *prometheus.CounterVec
	alerts   *prometheus.CounterVec
	batchSec prometheus.Histogram
	entities *prometheus.GaugeVec
	reloads  *prometheus.CounterVec
	lag      prometheus.Gauge
	dropped  prometheus.Counter
	zones    prometheus.Counter
}

func newPipelineMetrics(reg prometheus.Registerer, p *pipeline) *pipelineMetrics {
	m := &pipelineMetrics{
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ronda_pipeline_queue_events",
			Help: "Events accepted by intake and not yet analysed."}, func() float64 { return float64(p.queued.Load()) }),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_pipeline_events_total",
			Help: "Events offered to the analyzer by outcome: analysed, busy (queue full, the sender retries), record_busy (the ClickHouse writer is backlogged, the sender retries), log_full (the intake log reached state.log_max_bytes, the sender retries), log_error (the intake log could not be written: disk full, I/O; the sender retries), future (clock too far ahead: recorded, not analysed), unanalysed (left at a stop, written to the record only)."},
			[]string{"outcome"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_pipeline_alerts_total",
			Help: "Alert versions raised, by severity."}, []string{"severity"}),
		batchSec: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_pipeline_batch_seconds",
			Help: "Time the analyzer spent on one intake batch.", Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)}),
		entities: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ronda_engine_entities",
			Help: "Entities the analyzer holds in its windows, by kind."}, []string{"kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_config_reloads_total",
			Help: "SIGHUP reloads (thresholds, intake keys, webhook secrets, moderator tokens, TLS, all or nothing) by result."}, []string{"result"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_pipeline_event_time_lag_seconds",
			Help: "Wall clock minus the newest event time analysed, at its arrival: how far behind real time the input runs."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_engine_handover_marks_dropped_total",
			Help: "Recent stream starts and ends the analyzer dropped from its hand-over lists past their bound (4,096 each): hand-overs on a platform this busy go partly unseen."}),
		zones: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_engine_zones_fallback_total",
			Help: "Time zone lookups (a stream.start's tz, a gift's sender_tz) not loaded because the analyzer's zone cache was full (1,024 names each): the default zone, or the sender's country's, applied instead. Counted since the process started."}),
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.events, m.alerts, m.batchSec, m.entities, m.reloads, m.lag, m.dropped, m.zones)
	}
	for _, o := range []string{"analysed", "busy", "record_busy", "log_full", "log_error", "future", "unanalysed"} {
		m.events.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// sink is the intake.Sink of the analysing roles without an intake log.
func (p *pipeline) sink(_ context.Context, evs []event.Event) error {
	return p.enqueue(evs, p.now(), nil)
}

// enqueue queues a batch, refusing it (intake.ErrBusy: the sender retries)
// while the queue is full or the record is backlogged. logAppend, when set,
// numbers the batch in the intake log; it runs under inMu with room in the
// queue already reserved, so a batch is logged only when it is also queued,
// and in queue order.
func (p *pipeline) enqueue(evs []event.Event, wall time.Time, logAppend func() (uint64, error)) error {
	n := int64(len(evs))
	if p.recordBusy != nil && p.recordBusy() {
		p.m.events.WithLabelValues("record_busy").Add(float64(n))
		return intake.ErrBusy
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	if q := p.queued.Load(); q+n > p.limit || len(p.in) == cap(p.in) {
		p.m.events.WithLabelValues("busy").Add(float64(n))
		return intake.ErrBusy
	}
	b := batch{evs: evs, wall: wall}
	if logAppend != nil {
		var err error
		if b.seq, err = logAppend(); err != nil {
			return err
		}
	}
	p.queued.Add(n)
	p.in <- b // room checked above, and only enqueue sends, under inMu
	return nil
}

// run analyses batches until stop delivers the drain context, then analyses
// what is queued until that context ends; what is left then goes to the record
// unanalysed.
func (p *pipeline) run(stop <-chan context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.advanceEvery)
	defer tick.Stop()
	for {
		select {
		case b := <-p.in:
			p.apply(b)
		case <-tick.C:
			p.advance()
		case f := <-p.calls:
			f(p.eng)
		case ctx := <-stop:
			p.drain(ctx)
			return
		}
	}
}

func (p *pipeline) drain(ctx context.Context) {
	for {
		select {
		case b := <-p.in:
			if ctx.Err() != nil {
				// Recorded now; with an intake log, analysed by the next
				// start's replay (they are after the checkpoint's position).
				for i := range b.evs {
					p.onEvent(&b.evs[i])
				}
				p.queued.Add(-int64(len(b.evs)))
				p.m.events.WithLabelValues("unanalysed").Add(float64(len(b.evs)))
				continue
			}
			p.apply(b)
		default:
			return
		}
	}
}

func (p *pipeline) apply(b batch) {
	evs, start, t0 := b.evs, b.wall, p.now()
	if b.seq != 0 {
		p.current.Store(b.seq)
	}
	limit := start.Add(p.maxFuture)
	analysed := 0
	for i := range evs {
		ev := &evs[i]
		if ev.At.After(limit) {
			// Not analysed, so that it cannot age everyone's state, but kept
			// in the record: it was accepted.
			p.onEvent(ev)
			p.m.events.WithLabelValues("future").Inc()
			if p.futureLogged < 10 {
				p.futureLogged++
				p.log.Warn("event from the future not analysed (recorded only): its sender's clock is wrong",
					"id", ev.ID, "type", ev.Type.String(), "at", ev.At, "node", ev.Node, "max_future", p.maxFuture)
			}
			continue
		}
		if ev.At.After(p.evNow) {
			p.evNow, p.evWall = ev.At, start
		}
		p.onEvent(ev)
		for _, a := range p.eng.Apply(ev) {
			p.alert(a)
		}
		analysed++
	}
	p.queued.Add(-int64(len(evs)))
	if b.seq != 0 {
		p.applied = b.seq
	}
	p.m.events.WithLabelValues("analysed").Add(float64(analysed))
	p.m.batchSec.Observe(p.now().Sub(t0).Seconds())
	if !p.evNow.IsZero() {
		p.m.lag.Set(start.Sub(p.evNow).Seconds())
	}
}

func (p *pipeline) alert(a analyzer.Alert) {
	p.m.alerts.WithLabelValues(a.Severity.String()).Inc()
	p.onAlert(a)
}

// advance moves event time on by the wall time since the newest event arrived,
// so streams that went silent end and cool-downs pass while the input is idle.
func (p *pipeline) advance() {
	if !p.evNow.IsZero() {
		for _, a := range p.eng.Advance(p.evNow.Add(p.now().Sub(p.evWall))) {
			p.alert(a)
		}
	}
	st := p.eng.Stats()
	p.m.entities.WithLabelValues("streams").Set(float64(st.Streams))
	p.m.entities.WithLabelValues("hosts").Set(float64(st.Hosts))
	p.m.entities.WithLabelValues("accounts").Set(float64(st.Accounts))
	p.m.entities.WithLabelValues("places").Set(float64(st.Places))
	p.m.entities.WithLabelValues("open_alerts").Set(float64(st.OpenAlerts))
	// An engine installed from an older checkpoint may count fewer.
	if st.HandoverMarksDropped > p.dropped {
		p.m.dropped.Add(float64(st.HandoverMarksDropped - p.dropped))
	}
	p.dropped = st.HandoverMarksDropped
	if st.ZonesFallback > p.zonesFallback {
		p.m.zones.Add(float64(st.ZonesFallback - p.zonesFallback))
	}
	p.zonesFallback = st.ZonesFallback
}

var errPipelineStopped = errors.New("the analyzer has stopped")

// installEngine replaces the engine (with one restored from a checkpoint)
// before run starts, keeping its outputs.
func (p *pipeline) installEngine(e *analyzer.Engine) {
	e.OnSignal, e.OnSession = p.eng.OnSignal, p.eng.OnSession
	p.eng = e
}

// do runs f on the pipeline goroutine, the engine's owner, and waits for it.
func (p *pipeline) do(ctx context.Context, f func(*analyzer.Engine)) error {
	done := make(chan struct{})
	call := func(e *analyzer.Engine) { f(e); close(done) }
	select {
	case p.calls <- call:
	case <-p.done:
		return errPipelineStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
