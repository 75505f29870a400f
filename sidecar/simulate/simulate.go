// Package simulate is Ronda's own world generator: from a seed and a few
// options it makes a synthetic live-streaming platform (hosts, viewers,
// streams, gifts, chat, posts, links, payouts) with exploitation rings hidden
// among the benign lookalikes that ../../../shared/DOMAIN.md describes, and the
// labels that say which hosts and accounts belong to the rings. Its events
// follow the contract of ../../../shared/spec/EVENTS.md (package event). It
// feeds test fixtures, the demo and load tests, from a handful of streams to
// tens of millions of events, in time order and bounded memory.
//
// What it must not do: contain or emit any real person's data. Every name,
// shop, agency, phone number (from a range no phone uses), address and
// website (example.com) is made up; coordinates are random points around
// public city centres; addresses are random. It never reads the wall clock
// or a global random source: the same seed and options give byte-identical
// output. It does not copy the shared scenario files; it is written from the
// domain description, so detectors tuned on one cannot lean on the other.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Options describe a world. The zero value of Start, Days and Region takes the
// default; Hosts 0 means 150, and Rings is taken as given except in an Options
// whose Hosts is 0 too, where it means 2 (so Options{Seed: n} is the default
// world and Options{Hosts: 500} has no rings).
type Options struct {
	Seed  int64     // same seed + options → byte-identical output
	Start time.Time // first day, taken as its UTC midnight; default 2025-06-01
	Days  int       // default 7
	// Hosts is the number of benign hosts (default 150), lookalikes included.
	// Event volume scales with it: about 95k events per 150 hosts per week.
	Hosts int
	// Rings is the number of exploitation rings (default 2, see above); ring i
	// is variant (k+i) mod 4 of kos, own-phones, no-gps, scattered, k from the seed.
	Rings int
	// Region selects names, time zones, language of texts and currency: "id"
	// (Indonesia, the default: Asia/Jakarta, Asia/Makassar, Asia/Jayapura, IDR,
	// Bahasa Indonesia) or "ph" (Philippines: Asia/Manila, PHP, English/Taglish).
	Region string
	// Quiet makes every ring a quiet one (issue 11 item 4): old or bought
	// accounts of adult age with no recruitment trail (no ads, no DMs, no
	// agency), viewers who seldom type a directive, no classifier scores;
	// the hosts still broadcast in shifts every night and every morning
	// their coins are paid out to the operator. The operator is the ring's
	// only labelled account.
	Quiet bool
}

// Limits of Options.
const (
	MaxDays  = 366
	MaxHosts = 10_000_000
)

// DefaultStart is the first day when Options.Start is zero.
var DefaultStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC().Truncate(24 * time.Hour)
	if o.Days == 0 {
		o.Days = 7
	}
	if o.Hosts == 0 {
		o.Hosts = 150
		if o.Rings == 0 {
			o.Rings = 2
		}
	}
	if o.Region == "" {
		o.Region = "id"
	}
	return o
}

// Validate reports what is wrong with the options (after defaults), all at once.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Days < 1 || o.Days > MaxDays {
		errs = append(errs, fmt.Errorf("days %d out of range 1..%d", o.Days, MaxDays))
	}
	if o.Hosts < 0 || o.Hosts > MaxHosts {
		errs = append(errs, fmt.Errorf("hosts %d out of range 0..%d", o.Hosts, MaxHosts))
	}
	if o.Rings < 0 || o.Rings > o.Hosts {
		errs = append(errs, fmt.Errorf("rings %d out of range 0..hosts (%d)", o.Rings, o.Hosts))
	}
	if _, err := regionByCode(o.Region); err != nil {
		errs = append(errs, err)
	}
	if y := o.Start.Year(); y < 2000 || y > 2100 {
		errs = append(errs, fmt.Errorf("start %s out of range 2000..2100", o.Start.Format(time.DateOnly)))
	}
	return errors.Join(errs...)
}

// Labels are the world's ground truth, as in the scenarios' labels.json: the
// rings' victims (hosts) and the recruiter and operator accounts behind them.
// Every other host or account is benign.
type Labels struct {
	PositiveHosts    []string `json:"positive_hosts"`
	PositiveAccounts []string `json:"positive_accounts"`
}

// Stats count what Generate emitted.
type Stats struct {
	Events  uint64 // events emitted
	Streams int    // stream.start events
	Hosts   int    // hosts that started at least one stream
}

// PlanLabels returns the labels of the world opts describes without
// generating it, so that a live run can write its labels first. They equal
// those Generate returns.
func PlanLabels(opts Options) (Labels, error) {
	if err := opts.Validate(); err != nil {
		return Labels{}, fmt.Errorf("simulate: %w", err)
	}
	o := opts.withDefaults()
	x := newIDs(o.Seed)
	return labelsOf(planRings(o, x), x), nil
}

// Generate emits the world's events in event-time order (ties in a fixed
// order) to emit. Each call gets a new Event that emit may keep; its slices
// (Tags) are shared and must not be modified. emit may stop the run by
// returning an error, which Generate returns wrapped; ctx cancels it.
//
// A few account-level events (bios, agency joins, recruitment ads and DMs)
// precede Start. Streams started on the last day run to their end past it.
// Memory holds the world's actors and one day's plan, not its events.
func Generate(ctx context.Context, opts Options, emit func(*event.Event) error) (Labels, Stats, error) {
	return generate(ctx, opts, emit, false)
}

func generate(ctx context.Context, opts Options, emit func(*event.Event) error, reuse bool) (Labels, Stats, error) {
	if err := opts.Validate(); err != nil {
		return Labels{}, Stats{}, fmt.Errorf("simulate: %w", err)
	}
	w := newWorld(opts.withDefaults())
	g := &gen{w: w, emit: emit}
	if reuse {
		g.reuse = new(event.Event)
	}
	err := g.run(ctx)
	st := Stats{Events: g.events, Streams: int(g.streams), Hosts: g.hostsLive}
	if err != nil {
		return Labels{}, st, fmt.Errorf("simulate: %w", err)
	}
	return labelsOf(w.rings, w.ids), st, nil
}

// newWorld plans every actor of the world.
func newWorld(o Options) *world {
	rg, _ := regionByCode(o.Region)
	w := &world{o: o, rg: rg, ids: newIDs(o.Seed), start: o.Start.Unix(), year: o.Start.Year(),
		devOwner: map[string]string{}}
	w.end = w.start + int64(o.Days)*86400
	w.ramadan = ramadanRanges()
	for _, c := range foreignCountries {
		if c.code == rg.code {
			c.code = "ID"
		}
		w.countries = append(w.countries, c)
	}
	for i := range w.countries {
		w.allForeign = append(w.allForeign, i)
	}
	w.rings = planRings(o, w.ids)
	total := o.Hosts + ringHostCount(w.rings)
	w.hosts = make([]host, total)
	w.places = make([]place, 0, total+total/4+16)
	w.nAcc = uint32(2 * o.Rings)
	w.nDev = uint32(total)

	r := newRand(o.Seed, tagWorld, 0, 0)
	for range 3 + o.Hosts/3000 {
		ip := w.ipAddr(r)
		w.carriers = append(w.carriers, carrier{prefix: ip[:lastDot(ip)+1], n: min(250, 6+o.Hosts/300)})
	}
	w.vDom = uint32(20*total + 200)
	vf := float64(4*total + 400)
	var sum float64
	for _, c := range w.countries {
		sum += c.weight
	}
	w.block = make([]uint32, len(w.countries)+1)
	w.block[0] = w.vDom
	for i, c := range w.countries {
		w.block[i+1] = w.block[i] + uint32(max(20, vf*c.weight/sum))
	}

	w.buildBenign(r)
	for _, rg := range w.rings {
		w.buildRing(rg)
		if rg.v == variantScattered && o.Hosts > 0 {
			// A benign-looking older account pays the beneficiary now and then.
			for k := range o.Hosts {
				h := &w.hosts[(int(mix(uint64(o.Seed)^uint64(rg.n))%uint64(o.Hosts))+k)%o.Hosts]
				if h.kind == kindOrdinary && h.payAlt == "" && h.created < w.start-300*86400 {
					h.payAlt, h.payAltP = rg.operator, 0.5
					h.perWeek = max(h.perWeek, 4)
					rg.older = int32(h.idx)
					break
				}
			}
		}
	}
	sortItems(w.agenda)
	return w
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func (w *world) newDevice() uint32 {
	n := w.nDev
	w.nDev++
	return n
}
