// Package feed plays a synthetic world (package simulate) into a running
// Ronda's intake, POST /v1/events (package intake), at accelerated time: the
// live counterpart of writing the world to a file. `ronda simulate --live`
// runs it against a server; `ronda serve` runs it in-process for its demo,
// so that a newcomer sees alerts arrive within minutes.
//
// Events go out in the world's order, paced by Options.Speed, in signed
// NDJSON batches as ../../../shared/spec/EVENTS.md describes. A busy or
// rate-limiting intake is waited for as it asks (Retry-After) and an
// unreachable one is retried until it answers; a refusal that a retry cannot
// cure (a wrong key, a clock outside the replay window) stops the feed.
//
// What it must not do: hold the world in memory (the generator streams it and
// a batch is all that is kept), send an event before its paced time or dated
// after its clock, put the secret anywhere but in an HMAC, or log event
// contents. It does not touch signals or exit the process.
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

// Defaults of Options.
const (
	// DefaultSpeed plays a world day in 144 s of wall time: a week in under
	// 17 minutes, fast enough to watch alerts arrive, slow enough to watch
	// streams live.
	DefaultSpeed = 600
	// DefaultBatchMax is far below the intake's 50,000 lines per request and
	// its rate burst of 40,000 events, and big enough that a request's cost
	// is spread over many events.
	DefaultBatchMax = 2000
	// DefaultBatchAge keeps a slow feed looking live: an event waits at most
	// this long for its batch to fill.
	DefaultBatchAge = 200 * time.Millisecond
	// DefaultProgressEvery is the interval of progress lines.
	DefaultProgressEvery = 5 * time.Second
	// defaultDays is simulate's default world length, set explicitly so that
	// the rebase and the generator agree on it.
	defaultDays = 7
)

// Bounds of the waits between attempts.
const (
	minBackoff    = 250 * time.Millisecond // first wait after a connection error
	maxBackoff    = 10 * time.Second       // cap of the doubling backoff
	maxRetryAfter = 30 * time.Second       // a longer Retry-After is cut to this
	// maxBodyBytes closes a batch early when its encoding grows past it, well
	// under the intake's default body limit of 8 MiB.
	maxBodyBytes = 4 << 20
)

// Options configure a feed. Zero values take the documented defaults.
type Options struct {
	// World is the world to play. Its zero value is simulate's default world
	// (seven days, 150 hosts, two rings).
	World simulate.Options

	// Rebase dates the world to end today: World.Start becomes the UTC
	// midnight of the clock's date minus World.Days, so the last simulated
	// day is yesterday (UTC). The events are never in the future of the
	// receiver's clock, the rows it stores fall in the "last N days" of its
	// dashboards, and at Speed S the feed catches up with the clock after
	// about Days×86400/S seconds (a week at the default speed: 16m48s).
	//
	// The shift is by whole UTC days, so the world's local-time patterns
	// (night schedules, time zones) come out exactly as generated, and the
	// same seed on the same date gives the same events. The generator reads
	// the weekday, the year and Ramadan from the dates, so a world rebased to
	// another date may differ in those: a host's age against its birth year
	// stays what the generator meant. World.Start must be zero with Rebase.
	Rebase bool

	// Speed is how many world seconds pass per wall second: an event at world
	// time t goes out once (t − World.Start)/Speed of wall time has passed
	// since Run began (events before Start at once). Default 600 (a world day
	// in 144 s); it must not be negative. A very large value (math.Inf(1))
	// sends as fast as the intake takes it. Whatever the speed, an event is
	// never sent before the clock reaches its time: a world that runs past
	// the clock (streams of the last day that end after midnight, an explicit
	// Start close to now) goes on at the clock's pace from there.
	Speed float64

	// StopAtClock ends the feed, as if the world ended there, at the first
	// event dated after the clock, instead of going on at the clock's pace:
	// for a demo or a test that must end when the world has caught up.
	// Stats.Generated counts that event; Stats.Sent does not.
	StopAtClock bool

	// URL is the base URL of the Ronda intake, e.g. http://127.0.0.1:8080;
	// batches go to URL + intake.Path. Required.
	URL string

	// KeyID and Secret sign every request (wire.Sign): a key of the
	// intake's Options.Keys. The secret is at least wire.MinKeyBytes long
	// and is never logged. Required.
	KeyID  string
	Secret []byte

	// BatchMax is the most events per request. Default 2,000.
	BatchMax int

	// BatchAge is the longest an event waits for its batch to fill, in wall
	// time: a partial batch goes out at that age. Default 200 ms.
	BatchAge time.Duration

	// Gzip compresses the request bodies (Content-Encoding: gzip): about a
	// tenth of the bytes for some CPU on both sides. Worth it over a slow
	// link, not on loopback.
	Gzip bool

	// Client sends the requests. Default: an http.Client with a 30 s timeout.
	Client *http.Client

	// Logger gets the outages (once each, not per attempt), refusals and
	// rejected lines; never the secret or event contents. Default
	// slog.Default().
	Logger *slog.Logger

	// Progress, when set, gets a line every ProgressEvery: world time
	// reached, events sent, events/s, retries.
	Progress      io.Writer
	ProgressEvery time.Duration // default 5 s

	// Now and Sleep are the clock, set together or not at all: Now for
	// pacing, batch age, the rebase and request timestamps, Sleep for every
	// wait (pacing, Retry-After, backoff). Sleep returns early with ctx's
	// error when ctx ends. Defaults: time.Now and a timer. A test gives a
	// clock whose Sleep advances its Now, and the same Now to the intake.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *Options) validate() error {
	var errs []error
	if math.IsNaN(o.Speed) || o.Speed < 0 {
		errs = append(errs, fmt.Errorf("speed %g: must be positive", o.Speed))
	}
	if o.URL == "" {
		errs = append(errs, errors.New("no intake URL"))
	} else if u, err := url.Parse(o.URL); err != nil {
		errs = append(errs, fmt.Errorf("intake URL: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("intake URL %q: want http:// or https:// and a host", o.URL))
	}
	if o.KeyID == "" {
		errs = append(errs, errors.New("no key id"))
	}
	switch {
	case len(o.Secret) == 0:
		errs = append(errs, errors.New("no secret"))
	case len(o.Secret) < wire.MinKeyBytes:
		errs = append(errs, fmt.Errorf("secret shorter than %d bytes: no intake accepts such a key", wire.MinKeyBytes))
	}
	if o.BatchMax < 0 {
		errs = append(errs, fmt.Errorf("batch max %d: must not be negative", o.BatchMax))
	}
	if o.BatchAge < 0 {
		errs = append(errs, fmt.Errorf("batch age %s: must not be negative", o.BatchAge))
	}
	if o.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("progress interval %s: must not be negative", o.ProgressEvery))
	}
	if (o.Now == nil) != (o.Sleep == nil) {
		errs = append(errs, errors.New("Now and Sleep must be set together"))
	}
	if o.Rebase && !o.World.Start.IsZero() {
		errs = append(errs, errors.New("rebase and a world start exclude each other"))
	}
	if err := o.World.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *Options) setDefaults() {
	if o.Speed == 0 {
		o.Speed = DefaultSpeed
	}
	if o.BatchMax == 0 {
		o.BatchMax = DefaultBatchMax
	}
	if o.BatchAge == 0 {
		o.BatchAge = DefaultBatchAge
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now, o.Sleep = time.Now, sleep
	}
	if o.World.Days == 0 {
		o.World.Days = defaultDays
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats count what a feed did.
type Stats struct {
	Generated  uint64        // events the world emitted so far
	Sent       uint64        // events in requests the intake answered (200)
	Accepted   uint64        // of those, taken as new
	Duplicates uint64        // ids the intake had already (a world fed twice, or an answer lost and resent)
	Rejected   uint64        // lines the intake refused: a contract bug when not zero
	Unknown    uint64        // lines of a type the intake does not know
	Requests   uint64        // HTTP requests, retries included
	Retries    uint64        // requests that repeated a batch after a refusal or failure
	WorldTime  time.Time     // time of the last event sent
	Elapsed    time.Duration // since Run began, by the clock
}

// Feeder plays one world into one intake. Make it with New, run it once.
type Feeder struct {
	o        Options
	endpoint string // where batches go
	shown    string // endpoint with any password masked, for logs and errors
	labels   simulate.Labels
	started  atomic.Bool
}

// New validates o, applies the defaults and, with Rebase, dates the world by
// the clock now.
func New(o Options) (*Feeder, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("feed options: %w", err)
	}
	o.setDefaults()
	o.Secret = append([]byte(nil), o.Secret...) // the caller may wipe theirs
	if o.Rebase {
		o.World.Start = RebasedStart(o.Now(), o.World.Days)
		if err := o.World.Validate(); err != nil {
			return nil, fmt.Errorf("feed options: rebased world: %w", err)
		}
	} else if o.World.Start.IsZero() {
		o.World.Start = simulate.DefaultStart
	}
	o.World.Start = o.World.Start.UTC().Truncate(24 * time.Hour) // as simulate takes it
	labels, err := simulate.PlanLabels(o.World)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	u, err := url.Parse(strings.TrimRight(o.URL, "/") + intake.Path)
	if err != nil { // validate parsed the same URL
		return nil, fmt.Errorf("feed options: intake URL: %w", err)
	}
	return &Feeder{o: o, endpoint: u.String(), shown: u.Redacted(), labels: labels}, nil
}

// RebasedStart is the first day of a world of days days that ends at the
// UTC midnight starting now's date: that midnight minus days.
func RebasedStart(now time.Time, days int) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, time.UTC)
}

// World is the world the feeder plays, its Start and Days filled in.
func (f *Feeder) World() simulate.Options { return f.o.World }

// Labels are the world's ground truth: which hosts and accounts belong to its
// rings (the alerts that are true).
func (f *Feeder) Labels() simulate.Labels { return f.labels }

// Endpoint is the URL the batches go to, any password in it masked.
func (f *Feeder) Endpoint() string { return f.shown }

// PlayTime is the wall time the world's days take at the feed's speed: when
// a rebased feed has caught up with the clock.
func (f *Feeder) PlayTime() time.Duration {
	return scaled(time.Duration(f.o.World.Days)*24*time.Hour, f.o.Speed)
}

// scaled is d/speed rounded up, so that scaled(d)×speed ≥ d, saturated.
func scaled(d time.Duration, speed float64) time.Duration {
	s := math.Ceil(float64(d) / speed)
	if s >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(s)
}

// Run generates the world, paces it and sends it, until the world ends, ctx
// ends or the intake refuses it. It returns what was done in every case; on
// cancellation the error is ctx's, at once, and the batch in hand is not
// sent. A Feeder runs once.
func (f *Feeder) Run(ctx context.Context) (Stats, error) {
	if !f.started.CompareAndSwap(false, true) {
		return Stats{}, errors.New("feed: Run called twice")
	}
	r := newRun(ctx, f)
	_, _, err := simulate.Generate(ctx, f.o.World, r.emit)
	if errors.Is(err, errCaughtUp) && r.err == nil {
		err = nil
	}
	if err == nil {
		err = r.flush()
	}
	r.st.Elapsed = f.o.Now().Sub(r.t0)
	switch {
	case r.err != nil: // the feed's own error, not simulate's wrapping of it
		err = r.err
	case ctx.Err() != nil:
		err = ctx.Err()
	}
	if err == nil {
		r.progress(f.o.Now(), true)
	}
	return r.st, err
}

// errCaughtUp ends Generate when StopAtClock meets an event after the clock.
var errCaughtUp = errors.New("feed: caught up with the clock")

// Run plays the world o describes into the intake: New(o), then Run.
func Run(ctx context.Context, o Options) (Stats, error) {
	f, err := New(o)
	if err != nil {
		return Stats{}, err
	}
	return f.Run(ctx)
}
