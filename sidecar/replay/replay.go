// Package replay drives the analyzer from an NDJSON event file as fast as the CPU
// allows, and gives exactly the alerts the live service would (ARCHITECTURE.md,
// decision 2). With a scenario's labels it also runs the backtest.
//
// It owns the file handling around the pure analyzer: opening the input (plain or
// gzip), writing alerts and rejected lines, and the progress line. It never touches
// signals or the process: cancel the context to stop it.
package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"runtime/metrics"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/backtest"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// Options says what to replay and where results go.
type Options struct {
	// In is the event file, plain or gzip (sniffed); "-" reads stdin.
	In string
	// Out receives the alerts as NDJSON, one version per line; "" writes none, "-"
	// writes to stdout.
	Out string
	// Rejects receives every rejected or late line as NDJSON
	// {"line":..,"id":..,"field":..,"reason":..}. With "" they are only counted and
	// the first 20 are logged.
	Rejects string
	// Labels is a scenario's labels.json; it turns the backtest on.
	Labels string
	// Config is the analyzer's configuration; the zero value means
	// analyzer.DefaultConfig().
	Config analyzer.Config
	// Lateness is how far behind the newest event time an event may arrive and
	// still be analysed in order. The default 0 expects input in event-time order;
	// anything later is counted and reported as late, never analysed out of order.
	Lateness time.Duration
	// DedupWindow and DedupCapacity bound duplicate suppression by event id:
	// defaults 24h and 1,000,000 ids.
	DedupWindow   time.Duration
	DedupCapacity int
	// Progress, when set, receives a progress line: updated in place at most 4
	// times a second on a terminal, a plain line every 10 seconds otherwise.
	Progress io.Writer
	// Now is the wall clock, for throughput figures only; default time.Now.
	Now func() time.Time
	// Sink, when set, receives every alert version as it is raised.
	Sink func(analyzer.Alert)
	// OnEvent, when set, receives every event the engine analyses, before it is
	// applied; the event is only valid during the call (a store copies what it keeps).
	OnEvent func(*event.Event)
	// Engine, when set, is called once with the engine before the first event:
	// where a caller sets Engine.OnSignal and Engine.OnSession.
	Engine func(*analyzer.Engine)
	// Logger receives warnings (the first rejected lines); nil logs nothing.
	Logger *slog.Logger
	// Strip removes optional fields (device id, location, address) from every
	// event before the backtest and the engine see it: detection measured as
	// on a platform that never sends them.
	Strip event.Strip
	// Done, when set, runs after the last event is analysed and before the
	// engine is released: where a heap profile sees the state the windows hold.
	Done func()
}

func (o *Options) setDefaults() {
	if reflect.ValueOf(o.Config).IsZero() {
		o.Config = analyzer.DefaultConfig()
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = 24 * time.Hour
	}
	if o.DedupCapacity == 0 {
		o.DedupCapacity = 1_000_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o Options) validate() error {
	var errs []error
	if o.In == "" {
		errs = append(errs, errors.New("no input file"))
	}
	if o.Lateness < 0 {
		errs = append(errs, fmt.Errorf("lateness %v is negative", o.Lateness))
	}
	if o.DedupWindow < 0 {
		errs = append(errs, fmt.Errorf("dedup window %v is negative", o.DedupWindow))
	}
	if o.DedupCapacity < 0 {
		errs = append(errs, fmt.Errorf("dedup capacity %d is negative", o.DedupCapacity))
	}
	if o.Out == "-" && o.Rejects == "-" {
		errs = append(errs, errors.New("alerts and rejects cannot both go to stdout"))
	}
	return errors.Join(errs...)
}

// Summary is what a replay did.
type Summary struct {
	// Events were analysed; Lines were read. The rest were not analysed:
	// Rejected (malformed or invalid), Unknown (an event type this version does not
	// know), Duplicates (an id seen before) and Late (beyond Options.Lateness).
	Events, Lines, Rejected, Unknown, Duplicates, Late uint64
	Elapsed                                            time.Duration
	EventsPerSec                                       float64
	// AlertsBySeverity counts distinct alert ids by the highest severity they
	// reached; AlertVersions counts every version written.
	AlertsBySeverity map[string]int
	AlertVersions    int
	// Backtest is set when labels were given.
	Backtest *backtest.Report
	Engine   analyzer.Stats
	// Interrupted says the context ended the replay before the end of the input;
	// the figures cover what was read until then.
	Interrupted bool
	// PeakHeap is the largest live Go heap sampled during the replay (every
	// 65,536 events), in bytes: what the windows and bounded state cost.
	PeakHeap uint64
}

// Run replays opts.In through a new analyzer. When the context ends it stops,
// flushes what was written and returns the summary so far with the context's error.
// A read error that is not one bad line ends the replay with an error naming the
// file; everything written until then stays flushed.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return Summary{}, fmt.Errorf("replay options: %w", err)
	}
	eng, err := analyzer.New(opts.Config)
	if err != nil {
		return Summary{}, fmt.Errorf("analyzer config: %w", err)
	}
	var tracker *backtest.Tracker
	if opts.Labels != "" {
		b, err := os.ReadFile(opts.Labels)
		if err != nil {
			return Summary{}, fmt.Errorf("read labels: %w", err)
		}
		l, err := backtest.ParseLabels(b)
		if err != nil {
			return Summary{}, fmt.Errorf("labels %s: %w", opts.Labels, err)
		}
		tracker = backtest.NewTracker(l)
	}

	if opts.Engine != nil {
		opts.Engine(eng)
	}
	r := &run{opts: opts, eng: eng, tracker: tracker, severity: make(map[string]analyzer.Severity)}
	defer r.close()
	if err := r.open(); err != nil {
		return Summary{}, err
	}
	start := opts.Now()
	r.progress = newProgress(opts.Progress, opts.Now, start, func() int64 { return r.reader.Stats().BytesIn }, r.size)

	err = r.loop(ctx)
	if ferr := r.flush(); err == nil {
		err = ferr
	}
	r.progress.done(r.events, len(r.severity))

	s := r.summary(opts.Now().Sub(start))
	return s, err
}

// run is the state of one replay.
type run struct {
	opts    Options
	eng     *analyzer.Engine
	tracker *backtest.Tracker

	inFile  *os.File
	size    int64 // input bytes, -1 when unknown
	reader  *event.Reader
	dedup   *event.Deduper
	order   *event.Orderer
	applyFn func(*event.Event)

	out, rejects         *bufio.Writer
	rejectEnc            *json.Encoder
	outFile, rejectsFile *os.File
	progress             *progress

	events, rejected, unknown, late uint64
	newest                          time.Time // newest event time seen, for late reasons
	logged                          int       // rejected lines logged so far
	severity                        map[string]analyzer.Severity
	versions                        int
	err                             error // first output error
	stopped                         bool  // the context ended the replay
	peakHeap                        uint64
	heapSample                      []metrics.Sample
}

const outBuffer = 256 << 10

func (r *run) open() error {
	o := r.opts
	r.size = -1
	var in io.Reader = os.Stdin
	if o.In != "-" {
		f, err := os.Open(o.In)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		r.inFile = f
		in = f
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			r.size = st.Size()
		}
	}
	rd, err := event.NewReader(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.In, err)
	}
	r.reader = rd
	r.dedup = event.NewDeduper(o.DedupWindow, o.DedupCapacity)
	if o.Lateness > 0 {
		// Enough room for a busy platform's events over the lateness window; the
		// orderer forces the oldest out beyond that and counts it.
		r.order = event.NewOrderer(o.Lateness, 1<<20)
	}
	r.applyFn = r.apply

	r.out, r.outFile, err = create(o.Out)
	if err != nil {
		return fmt.Errorf("create alerts file: %w", err)
	}
	r.rejects, r.rejectsFile, err = create(o.Rejects)
	if err != nil {
		return fmt.Errorf("create rejects file: %w", err)
	}
	if r.rejects != nil {
		// Reasons are read by people: keep "<" and ">" as they are.
		r.rejectEnc = json.NewEncoder(r.rejects)
		r.rejectEnc.SetEscapeHTML(false)
	}
	return nil
}

// create opens an output: nil for "", stdout for "-".
func create(path string) (*bufio.Writer, *os.File, error) {
	switch path {
	case "":
		return nil, nil, nil
	case "-":
		return bufio.NewWriterSize(os.Stdout, outBuffer), nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewWriterSize(f, outBuffer), f, nil
}

// loop reads to the end of the input, the first fatal error or the end of ctx.
func (r *run) loop(ctx context.Context) error {
	var n uint64
	for {
		// Cheap checks only every 4096 events: the clock and ctx cost more than an
		// event's decoding.
		if n&4095 == 0 {
			if ctx.Err() != nil {
				return r.interrupted(ctx)
			}
			r.progress.tick(r.events, len(r.severity))
			if n&65535 == 0 {
				r.sampleHeap()
			}
		}
		n++
		ev, err := r.reader.Next()
		if err != nil {
			if err == io.EOF {
				break
			}
			var le *event.LineError
			if errors.As(err, &le) {
				r.lineError(le)
				continue
			}
			return fmt.Errorf("read %s: %w", r.opts.In, err)
		}
		if r.dedup.Seen(ev.ID, ev.At) {
			continue
		}
		if r.order == nil {
			if ev.At.Before(r.newest) {
				r.reportLate(ev)
				continue
			}
			r.newest = ev.At
			r.apply(ev)
		} else {
			if !r.order.Push(ev) {
				r.reportLate(ev)
				continue
			}
			if ev.At.After(r.newest) {
				r.newest = ev.At
			}
			r.order.Release(r.applyFn)
		}
		if r.err != nil {
			return r.err
		}
	}
	if r.order != nil {
		r.order.Drain(r.applyFn)
	}
	r.emit(r.eng.Flush())
	if r.opts.Done != nil {
		r.opts.Done()
	}
	return r.err
}

// sampleHeap records the live heap: runtime/metrics reads it without stopping
// the world.
func (r *run) sampleHeap() {
	if r.heapSample == nil {
		r.heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	}
	metrics.Read(r.heapSample)
	if v := r.heapSample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > r.peakHeap {
		r.peakHeap = v.Uint64()
	}
}

func (r *run) interrupted(ctx context.Context) error {
	r.stopped = true
	r.opts.Logger.Info("replay interrupted", "events", r.events)
	return fmt.Errorf("replay %s: %w", r.opts.In, context.Cause(ctx))
}

// apply gives one event, in event-time order, to the backtest and the engine.
func (r *run) apply(ev *event.Event) {
	r.events++
	r.opts.Strip.Apply(ev)
	if r.tracker != nil {
		r.tracker.Event(ev)
	}
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(ev)
	}
	if alerts := r.eng.Apply(ev); len(alerts) > 0 {
		r.emit(alerts)
	}
}

// emit hands alert versions to every consumer.
func (r *run) emit(alerts []analyzer.Alert) {
	for _, a := range alerts {
		r.versions++
		if prev, ok := r.severity[a.ID]; !ok || a.Severity > prev {
			r.severity[a.ID] = a.Severity
		}
		if r.tracker != nil {
			r.tracker.Alert(a)
		}
		if r.opts.Sink != nil {
			r.opts.Sink(a)
		}
		if r.out != nil && r.err == nil {
			b, err := json.Marshal(a)
			if err == nil {
				b = append(b, '\n')
				_, err = r.out.Write(b)
			}
			if err != nil {
				r.err = fmt.Errorf("write alerts %s: %w", r.opts.Out, err)
			}
		}
	}
}

// reject is one line of the rejects file.
type reject struct {
	Line   int    `json:"line"`
	ID     string `json:"id"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (r *run) lineError(le *event.LineError) {
	if le.Unknown {
		// Forward compatibility: a newer sender's type is skipped, not rejected.
		r.unknown++
		return
	}
	r.rejected++
	r.report(reject{Line: le.Line, ID: le.ID, Field: le.Field, Reason: le.Reason})
}

func (r *run) reportLate(ev *event.Event) {
	r.late++
	r.report(reject{
		Line:  int(r.reader.Stats().Lines),
		ID:    ev.ID,
		Field: "at",
		Reason: fmt.Sprintf("late: %v behind the newest event time %s (lateness %v)",
			r.newest.Sub(ev.At), r.newest.UTC().Format(time.RFC3339), r.opts.Lateness),
	})
}

const maxLogged = 20

func (r *run) report(rj reject) {
	if r.rejects != nil {
		if r.err != nil {
			return
		}
		if err := r.rejectEnc.Encode(rj); err != nil {
			r.err = fmt.Errorf("write rejects %s: %w", r.opts.Rejects, err)
		}
		return
	}
	switch {
	case r.logged < maxLogged:
		r.opts.Logger.Warn("line not analysed", "line", rj.Line, "id", rj.ID, "field", rj.Field, "reason", rj.Reason)
	case r.logged == maxLogged:
		r.opts.Logger.Warn("more lines not analysed; only counted from here (see --rejects)")
	}
	r.logged++
}

// flush writes out what is buffered; it is safe to call more than once.
func (r *run) flush() error {
	var errs []error
	if r.out != nil {
		if err := r.out.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("write alerts %s: %w", r.opts.Out, err))
		}
	}
	if r.rejects != nil {
		if err := r.rejects.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("write rejects %s: %w", r.opts.Rejects, err))
		}
	}
	return errors.Join(errs...)
}

// close releases the files; output files are closed after a final flush.
func (r *run) close() {
	_ = r.flush()
	if r.inFile != nil {
		_ = r.inFile.Close()
	}
	for _, f := range []*os.File{r.outFile, r.rejectsFile} {
		if f != nil {
			_ = f.Close()
		}
	}
}

func (r *run) summary(elapsed time.Duration) Summary {
	s := Summary{
		Events:           r.events,
		Rejected:         r.rejected,
		Unknown:          r.unknown,
		Late:             r.late,
		Elapsed:          elapsed,
		AlertsBySeverity: make(map[string]int),
		AlertVersions:    r.versions,
		Interrupted:      r.stopped,
		Engine:           r.eng.Stats(),
		PeakHeap:         r.peakHeap,
	}
	if r.reader != nil {
		s.Lines = r.reader.Stats().Lines
	}
	if r.dedup != nil {
		s.Duplicates = r.dedup.Stats().Duplicates
	}
	if elapsed > 0 {
		s.EventsPerSec = float64(r.events) / elapsed.Seconds()
	}
	for _, sev := range r.severity {
		s.AlertsBySeverity[sev.String()]++
	}
	if r.tracker != nil {
		rep := r.tracker.Report()
		s.Backtest = &rep
	}
	return s
}
