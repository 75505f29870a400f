package analyzer

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer/internal/idhash"
	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// Checkpoints: the engine's whole state (every host, account, place, live
// stream and alert, with evaluation caches, day rings, bounded lists, alert ids,
// versions and cool-downs, the event clock and the viewer-hash key) as a
// versioned, checksummed snapshot. An engine read back from a checkpoint
// raises exactly the alerts, signals and sessions its writer would have.
//
// The format (analyzer/snapshot frames it) is a header, then sections in a
// fixed order, each with a CRC-32C: the engine's scalars, a string table, the
// time zones, hosts, accounts, places, streams and alerts. Hosts and alerts
// point at each other, so they are numbered and referred to by number; an
// alert may hold hosts the window has already evicted, and those are written
// too. Maps are written in sorted order, so one state gives one byte string.
// Viewer ids are not in it: streams count viewers by keyed hash only.

// Errors of ReadCheckpoint, for errors.Is. A checkpoint written under another
// window, cell precision or network prefix is refused with ErrRestartNeeded.
var (
	// ErrCheckpointVersion: the checkpoint was written in another format
	// version; the message says which was found and which this build reads.
	ErrCheckpointVersion = errors.New("analyzer checkpoint of another format version")
	// ErrCheckpointCorrupt: a checksum, the structure or an invariant of the
	// state does not verify.
	ErrCheckpointCorrupt = errors.New("analyzer checkpoint is damaged")
)

// CheckpointVersion is the format version WriteCheckpoint writes and
// ReadCheckpoint reads. Any change to what a checkpoint holds raises it.
// Version 2 added the hand-over memory (the marks, each host's hand-over
// partners and device links, the count of marks dropped).
const CheckpointVersion = 2

// oldestCheckpointVersion is the oldest version ReadCheckpoint still reads:
// a version 1 checkpoint restores with no hand-over memory, which fills
// again from the next broadcasts, rather than the whole window forgotten at
// an upgrade (testdata/checkpoint-v1.bin).
const oldestCheckpointVersion = 1

var engineFormat = snapshot.Format{
	Magic: "RONDAENG", Version: CheckpointVersion, Oldest: oldestCheckpointVersion,
	Corrupt: ErrCheckpointCorrupt, Old: ErrCheckpointVersion,
}

// Sections, in the order they are written.
const (
	secEngine   = 'K'
	secStrings  = 'S'
	secZones    = 'Z'
	secHosts    = 'H'
	secAccounts = 'A'
	secPlaces   = 'P'
	secStreams  = 'T'
	secAlerts   = 'L'
)

var sectionOrder = [...]struct {
	tag  byte
	name string
}{
	{secEngine, "engine"}, {secStrings, "strings"}, {secZones, "time zones"},
	{secHosts, "hosts"}, {secAccounts, "accounts"}, {secPlaces, "places"},
	{secStreams, "streams"}, {secAlerts, "alerts"},
}

// WriteCheckpoint writes the engine's state to w. Call it between Apply,
// Advance and Flush calls, never from OnSignal or OnSession. The same state
// always gives the same bytes. It writes nothing but the checkpoint, so
// others (a deduper's) may follow it in w.
func (e *Engine) WriteCheckpoint(w io.Writer) error {
	if e.inCall || len(e.dirty) > 0 || len(e.out) > 0 {
		return errors.New("write analyzer checkpoint: the engine is inside a call (write it between calls, not from OnSignal or OnSession)")
	}
	cw := newCkWriter(e)
	payloads := cw.encode()
	sw := snapshot.NewWriter(w, engineFormat)
	for i, s := range sectionOrder {
		if err := sw.Section(s.tag, payloads[i]); err != nil {
			return fmt.Errorf("write analyzer checkpoint: %w", err)
		}
	}
	if err := sw.End(); err != nil {
		return fmt.Errorf("write analyzer checkpoint: %w", err)
	}
	return nil
}

// ReadCheckpoint returns an engine with cfg (which must validate, as for New)
// in the state a checkpoint holds. A damaged checkpoint is
// ErrCheckpointCorrupt, one of another format version ErrCheckpointVersion,
// one written under another window, cell precision or network prefix
// ErrRestartNeeded; no engine is returned with an error. Other thresholds of
// cfg apply from the next evaluation, as with SetConfig. OnSignal and
// OnSession are not state: set them on the engine returned. It reads exactly
// the checkpoint's bytes from r.
func ReadCheckpoint(cfg Config, r io.Reader) (*Engine, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := readCheckpoint(e, r); err != nil {
		return nil, fmt.Errorf("read analyzer checkpoint: %w", err)
	}
	return e, nil
}

func readCheckpoint(e *Engine, r io.Reader) error {
	sr, err := snapshot.Open(r, engineFormat)
	if err != nil {
		return err
	}
	var payloads [len(sectionOrder)][]byte
	for i, s := range sectionOrder {
		if payloads[i], err = sr.Section(s.tag); err != nil {
			return err
		}
		if i == 0 {
			// Refuse another configuration before reading the rest.
			if err := checkKeying(e.cfg, payloads[0]); err != nil {
				return err
			}
		}
	}
	if err := sr.End(); err != nil {
		return err
	}
	cr := &ckReader{e: e, version: sr.Version()}
	return cr.decode(payloads)
}

// keying is the configuration that state is keyed by (SetConfig's
// ErrRestartNeeded): a checkpoint holds it first.
type keying struct {
	window           time.Duration
	cell, ipv4, ipv6 int
}

func keyingOf(c Config) keying {
	return keying{c.Window, c.Colocation.CellPrecision, c.Colocation.IPv4Prefix, c.Colocation.IPv6Prefix}
}

func (k keying) String() string {
	return fmt.Sprintf("window %v, cell precision %d, prefixes /%d and /%d", k.window, k.cell, k.ipv4, k.ipv6)
}

func writeKeying(enc *snapshot.Enc, k keying) {
	enc.Varint(int64(k.window))
	enc.Uvarint(uint64(k.cell))
	enc.Uvarint(uint64(k.ipv4))
	enc.Uvarint(uint64(k.ipv6))
}

func readKeying(d *snapshot.Dec) keying {
	return keying{
		window: time.Duration(d.Varint()),
		cell:   int(d.Uint(64, "cell precision")),
		ipv4:   int(d.Uint(128, "ipv4 prefix")),
		ipv6:   int(d.Uint(128, "ipv6 prefix")),
	}
}

func checkKeying(cfg Config, payload []byte) error {
	d := snapshot.NewDec(payload, ErrCheckpointCorrupt, "engine")
	k := readKeying(d)
	if err := d.Err(); err != nil {
		return err
	}
	if want := keyingOf(cfg); k != want {
		return fmt.Errorf("written under %s, configured %s: %w", k, want, ErrRestartNeeded)
	}
	return nil
}

// ckWriter numbers what the sections refer to: strings, zones, hosts, alerts.
type ckWriter struct {
	e        *Engine
	strIdx   map[string]uint64
	strs     []string
	zoneIdx  map[string]uint64
	zones    []string
	hostIdx  map[*hostState]uint64
	hosts    []*hostState
	alertIdx map[*alertState]uint64
	alerts   []*alertState
}

func newCkWriter(e *Engine) *ckWriter {
	w := &ckWriter{
		e:        e,
		strIdx:   make(map[string]uint64, 3*(len(e.hosts)+len(e.accounts)+len(e.places))),
		zoneIdx:  map[string]uint64{},
		hostIdx:  make(map[*hostState]uint64, len(e.hosts)),
		alertIdx: make(map[*alertState]uint64, len(e.alerts)),
	}
	w.strIdx[""] = 0
	w.strs = append(w.strs, "")
	w.collect()
	return w
}

// collect numbers every host and alert the engine can reach: those in its
// maps first (by id), then those only alerts, streams and hosts point at
// (evicted hosts of an open alert, alerts evicted while a host still points
// at them), until none is new.
func (w *ckWriter) collect() {
	e := w.e
	for _, id := range sortedKeys(e.hosts) {
		w.addHost(e.hosts[id])
	}
	for _, id := range sortedKeys(e.streams) {
		w.addHost(e.streams[id].host)
	}
	for _, id := range sortedKeys(e.alerts) {
		w.addAlert(e.alerts[id])
	}
	for h, a := 0, 0; h < len(w.hosts) || a < len(w.alerts); {
		for ; h < len(w.hosts); h++ {
			if w.hosts[h].alert != nil {
				w.addAlert(w.hosts[h].alert)
			}
		}
		for ; a < len(w.alerts); a++ {
			for _, x := range w.alerts[a].hosts {
				w.addHost(x)
			}
		}
	}
}

func (w *ckWriter) addHost(h *hostState) {
	if _, ok := w.hostIdx[h]; !ok {
		w.hostIdx[h] = uint64(len(w.hosts))
		w.hosts = append(w.hosts, h)
	}
}

func (w *ckWriter) addAlert(a *alertState) {
	if _, ok := w.alertIdx[a]; !ok {
		w.alertIdx[a] = uint64(len(w.alerts))
		w.alerts = append(w.alerts, a)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encode returns the payloads of sectionOrder. The string table is filled
// while the others are encoded, so it is encoded last.
func (w *ckWriter) encode() [len(sectionOrder)][]byte {
	e := w.e
	var out [len(sectionOrder)][]byte
	var k snapshot.Enc
	writeKeying(&k, keyingOf(e.cfg))
	k.U64(uint64(e.key))
	k.Time(e.now)
	k.Time(e.nextSweep)
	k.Time(e.nextEvict)
	k.Time(e.started)
	k.Uvarint(e.evalGen)
	k.Uvarint(e.stats.Events)
	k.Uvarint(e.stats.Unknown)
	k.Uvarint(e.stats.Evicted)
	k.Uvarint(e.stats.AlertsEmitted)
	k.Uvarint(e.stats.SignalsRaised)
	k.Uvarint(e.stats.HandoverMarksDropped)
	out[0] = k.B

	hosts := snapshot.Enc{B: make([]byte, 0, 256*len(w.hosts)+8)}
	hosts.Uvarint(uint64(len(w.hosts)))
	for _, h := range w.hosts {
		hosts.Bool(e.hosts[h.id] == h)
		w.host(&hosts, h)
	}
	out[3] = hosts.B

	accts := snapshot.Enc{B: make([]byte, 0, 64*len(e.accounts)+8)}
	accts.Uvarint(uint64(len(e.accounts)))
	for _, id := range sortedKeys(e.accounts) {
		w.account(&accts, e.accounts[id])
	}
	out[4] = accts.B

	places := snapshot.Enc{B: make([]byte, 0, 128*len(e.places)+8)}
	places.Uvarint(uint64(len(e.places)))
	for _, key := range sortedKeys(e.places) {
		w.place(&places, e.places[key])
	}
	out[5] = places.B

	streams := snapshot.Enc{B: make([]byte, 0, 256*len(e.streams)+8)}
	streams.Uvarint(uint64(len(e.streams)))
	for _, id := range sortedKeys(e.streams) {
		w.stream(&streams, e.streams[id])
	}
	w.handovers(&streams, &e.ho)
	out[6] = streams.B

	alerts := snapshot.Enc{B: make([]byte, 0, 128*len(w.alerts)+8)}
	alerts.Uvarint(uint64(len(w.alerts)))
	for _, a := range w.alerts {
		alerts.Bool(e.alerts[a.id] == a)
		w.alert(&alerts, a)
	}
	out[7] = alerts.B

	// The zone table and the engine's zone cache, by name.
	var z snapshot.Enc
	names := sortedKeys(e.tz)
	for _, n := range names {
		w.zoneIdxOf(e.tz[n])
	}
	z.Uvarint(uint64(len(w.zones)))
	for _, n := range w.zones {
		w.str(&z, n)
	}
	z.Uvarint(uint64(len(names)))
	for _, n := range names {
		w.str(&z, n)
		w.zone(&z, e.tz[n])
	}
	out[2] = z.B

	var size int
	for _, s := range w.strs {
		size += len(s) + 2
	}
	strs := snapshot.Enc{B: make([]byte, 0, size+8)}
	strs.Uvarint(uint64(len(w.strs)))
	for _, s := range w.strs {
		strs.String(s)
	}
	out[1] = strs.B
	return out
}

func (w *ckWriter) str(enc *snapshot.Enc, s string) {
	i, ok := w.strIdx[s]
	if !ok {
		i = uint64(len(w.strs))
		w.strIdx[s] = i
		w.strs = append(w.strs, s)
	}
	enc.Uvarint(i)
}

func (w *ckWriter) strList(enc *snapshot.Enc, list []string) {
	enc.Uvarint(uint64(len(list)))
	for _, s := range list {
		w.str(enc, s)
	}
}

// zoneIdxOf numbers a location by its name (1-based; 0 is nil): a zone is
// loaded by name when read back.
func (w *ckWriter) zoneIdxOf(loc *time.Location) uint64 {
	if loc == nil {
		return 0
	}
	name := loc.String()
	i, ok := w.zoneIdx[name]
	if !ok {
		w.zones = append(w.zones, name)
		i = uint64(len(w.zones))
		w.zoneIdx[name] = i
	}
	return i
}

func (w *ckWriter) zone(enc *snapshot.Enc, loc *time.Location) { enc.Uvarint(w.zoneIdxOf(loc)) }

func (w *ckWriter) hostRef(enc *snapshot.Enc, h *hostState) {
	if h == nil {
		enc.Uvarint(0)
		return
	}
	enc.Uvarint(w.hostIdx[h] + 1)
}

func (w *ckWriter) alertRef(enc *snapshot.Enc, a *alertState) {
	if a == nil {
		enc.Uvarint(0)
		return
	}
	enc.Uvarint(w.alertIdx[a] + 1)
}

// ckReader rebuilds an engine from the payloads of sectionOrder.
type ckReader struct {
	e       *Engine
	version uint32 // of the checkpoint read: fields added since are absent
	all     string // the string table's bytes: table strings share them
	strs    []string
	zones   []*time.Location
	hosts   []*hostState
	alerts  []*alertState
}

// Limits of a checkpoint's contents beyond the engine's own bounds.
const (
	maxCkString = 64 << 10 // an event is at most event.MaxEventBytes
	maxCkZones  = 4096     // the zone cache holds 1025 names, hosts and streams one each
	maxCkCues   = 64       // lure cues of one account
)

func (r *ckReader) decode(p [len(sectionOrder)][]byte) error {
	e := r.e
	d := r.dec(p, 0)
	readKeying(d)
	e.key = idhash.Key(d.U64())
	e.now = d.Time()
	e.nextSweep = d.Time()
	e.nextEvict = d.Time()
	e.started = d.Time()
	e.evalGen = d.Uvarint()
	e.stats.Events = d.Uvarint()
	e.stats.Unknown = d.Uvarint()
	e.stats.Evicted = d.Uvarint()
	e.stats.AlertsEmitted = d.Uvarint()
	e.stats.SignalsRaised = d.Uvarint()
	if r.version >= 2 {
		e.stats.HandoverMarksDropped = d.Uvarint()
	}
	if err := d.Done(); err != nil {
		return err
	}

	// Strings are cut from one copy of the table: one allocation, not one
	// per string; the table lives as long as any of its strings.
	d = r.dec(p, 1)
	r.all = string(p[1])
	r.strs = make([]string, d.Len(len(p[1]), "strings"))
	for i := range r.strs {
		n := d.Uint(maxCkString, "string length")
		off := len(p[1]) - d.Remaining()
		if d.Bytes(int(n)) != nil || n == 0 {
			r.strs[i] = r.all[off : off+int(n)]
		}
	}
	if err := d.Done(); err != nil {
		return err
	}
	if len(r.strs) == 0 || r.strs[0] != "" {
		return fmt.Errorf("%w: strings: the table does not begin with the empty string", ErrCheckpointCorrupt)
	}

	d = r.dec(p, 2)
	names := make([]string, d.Len(maxCkZones, "zones"))
	for i := range names {
		names[i] = r.str(d)
	}
	if err := d.Err(); err != nil {
		return err
	}
	r.zones = make([]*time.Location, len(names)+1)
	for i, n := range names {
		loc, err := time.LoadLocation(n)
		if err != nil {
			return fmt.Errorf("time zone %q of the checkpoint is unknown here: %w", n, err)
		}
		r.zones[i+1] = loc
	}
	nt := d.Len(maxCkZones, "zone names")
	for range nt {
		name := r.str(d)
		loc := r.zone(d)
		if loc == nil {
			d.Fail("zone name %q has no zone", name)
		}
		e.tz[name] = loc
	}
	if len(e.tz) != nt {
		d.Fail("zone names repeat")
	}
	if err := d.Done(); err != nil {
		return err
	}

	// Hosts and alerts point at each other: allocate both before filling.
	dh := r.dec(p, 3)
	r.hosts = make([]*hostState, dh.Len(len(p[3]), "hosts"))
	for i := range r.hosts {
		r.hosts[i] = new(hostState)
	}
	e.hosts = make(map[string]*hostState, len(r.hosts))
	dl := r.dec(p, 7)
	r.alerts = make([]*alertState, dl.Len(len(p[7]), "alerts"))
	for i := range r.alerts {
		r.alerts[i] = new(alertState)
	}
	e.alerts = make(map[string]*alertState, len(r.alerts))
	for _, h := range r.hosts {
		inMap := dh.Bool()
		r.host(dh, h)
		if inMap && dh.Err() == nil {
			if e.hosts[h.id] != nil {
				dh.Fail("host %q twice", h.id)
			}
			e.hosts[h.id] = h
		}
	}
	if err := dh.Done(); err != nil {
		return err
	}

	d = r.dec(p, 4)
	n := d.Len(len(p[4]), "accounts")
	e.accounts = make(map[string]*acctState, n)
	for range n {
		a := r.account(d)
		if d.Err() != nil {
			break
		}
		if e.accounts[a.id] != nil {
			d.Fail("account %q twice", a.id)
		}
		e.accounts[a.id] = a
	}
	if err := d.Done(); err != nil {
		return err
	}

	d = r.dec(p, 5)
	n = d.Len(len(p[5]), "places")
	e.places = make(map[string]*placeState, n)
	for range n {
		pl := r.place(d)
		if d.Err() != nil {
			break
		}
		if e.places[pl.key] != nil {
			d.Fail("place %q twice", pl.key)
		}
		e.places[pl.key] = pl
	}
	if err := d.Done(); err != nil {
		return err
	}

	d = r.dec(p, 6)
	n = d.Len(len(p[6]), "streams")
	e.streams = make(map[string]*streamState, n)
	for range n {
		s := r.stream(d)
		if d.Err() != nil {
			break
		}
		if e.streams[s.id] != nil {
			d.Fail("stream %q twice", s.id)
		}
		e.streams[s.id] = s
	}
	if r.version >= 2 {
		r.handovers(d, &e.ho)
	}
	if err := d.Done(); err != nil {
		return err
	}

	for _, a := range r.alerts {
		inMap := dl.Bool()
		r.alert(dl, a)
		if inMap && dl.Err() == nil {
			if e.alerts[a.id] != nil {
				dl.Fail("alert %q twice", a.id)
			}
			e.alerts[a.id] = a
		}
	}
	return dl.Done()
}

func (r *ckReader) dec(p [len(sectionOrder)][]byte, i int) *snapshot.Dec {
	return snapshot.NewDec(p[i], ErrCheckpointCorrupt, sectionOrder[i].name)
}

func (r *ckReader) str(d *snapshot.Dec) string {
	i := d.Uvarint()
	if i >= uint64(len(r.strs)) {
		d.Fail("string %d of %d", i, len(r.strs))
		return ""
	}
	return r.strs[i]
}

// strList reads up to max strings; none is nil, as the engine starts them.
func (r *ckReader) strList(d *snapshot.Dec, max int) []string {
	n := d.Len(max, "strings")
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str(d)
	}
	return out
}

func (r *ckReader) zone(d *snapshot.Dec) *time.Location {
	i := d.Uvarint()
	if i >= uint64(len(r.zones)) {
		d.Fail("zone %d of %d", i, len(r.zones)-1)
		return nil
	}
	return r.zones[i]
}

func (r *ckReader) hostRef(d *snapshot.Dec) *hostState {
	i := d.Uvarint()
	if i > uint64(len(r.hosts)) {
		d.Fail("host %d of %d", i, len(r.hosts))
		return nil
	}
	if i == 0 {
		return nil
	}
	return r.hosts[i-1]
}

func (r *ckReader) alertRef(d *snapshot.Dec) *alertState {
	i := d.Uvarint()
	if i > uint64(len(r.alerts)) {
		d.Fail("alert %d of %d", i, len(r.alerts))
		return nil
	}
	if i == 0 {
		return nil
	}
	return r.alerts[i-1]
}

// kindName checks an entity kind against the kinds alerts name.
func kindName(d *snapshot.Dec, k string) string {
	switch k {
	case KindHost, KindAccount, KindStream, KindDevice, KindLocation, KindNetwork, KindAlert:
		return k
	}
	d.Fail("unknown entity kind %q", strings.ToValidUTF8(k, "?"))
	return ""
}
