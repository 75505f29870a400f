package analyzer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/analyzer/snapshot"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

// record is everything an engine emits over a run.
type record struct {
	alerts   []Alert
	signals  []Signal
	sessions []Session
	stats    Stats
}

// checkpointRun applies evs to an engine, calling Advance now and then as the
// live service does; before each event index in cuts it writes a checkpoint
// and carries on with the engine read back from it. It returns what was
// emitted, and the checkpoints written.
func checkpointRun(t testing.TB, cfg Config, evs []event.Event, cuts []int) (record, [][]byte) {
	t.Helper()
	var rec record
	attach := func(e *Engine) {
		e.OnSignal = func(s Signal) { rec.signals = append(rec.signals, s) }
		e.OnSession = func(s Session) { rec.sessions = append(rec.sessions, s) }
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	attach(e)
	var written [][]byte
	for i := range evs {
		if slices.Contains(cuts, i) {
			b := checkpointBytes(t, e)
			written = append(written, b)
			r, err := ReadCheckpoint(cfg, bytes.NewReader(b))
			if err != nil {
				t.Fatalf("before event %d: %v", i, err)
			}
			if again := checkpointBytes(t, r); !bytes.Equal(again, b) {
				t.Fatalf("before event %d: the restored engine's checkpoint differs from the one it was read from", i)
			}
			if r.Stats() != e.Stats() {
				t.Fatalf("before event %d: restored stats %+v, want %+v", i, r.Stats(), e.Stats())
			}
			e = r
			attach(e)
		}
		rec.alerts = append(rec.alerts, e.Apply(&evs[i])...)
		if i%5000 == 4999 {
			rec.alerts = append(rec.alerts, e.Advance(evs[i].At.Add(90*time.Second))...)
		}
	}
	rec.alerts = append(rec.alerts, e.Flush()...)
	rec.stats = e.Stats()
	return rec, written
}

func checkpointBytes(t testing.TB, e *Engine) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.WriteCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storyEvents returns a timeline story's events in the order world.run
// applies them.
func storyEvents(story func(w *world)) []event.Event {
	w := &world{} // only collects events
	story(w)
	evs := w.pend
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.At.Compare(b.At) })
	return evs
}

var simOnce = sync.OnceValues(func() ([]event.Event, error) {
	// Three weeks, so the 14-day window evicts, with every ring variant.
	var evs []event.Event
	_, _, err := simulate.Generate(context.Background(), simulate.Options{Seed: 5, Days: 21, Hosts: 120, Rings: 4},
		func(ev *event.Event) error {
			evs = append(evs, *ev)
			return nil
		})
	return evs, err
})

func simulatedWorld(t testing.TB) []event.Event {
	evs, err := simOnce()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestCheckpointEquivalence: an engine checkpointed and read back at random
// moments emits exactly what an uninterrupted one does: every alert version
// (id, version, severity, score, entities, reasons with their figures, time),
// every signal and session, and ends with the same counts.
func TestCheckpointEquivalence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		events func(t *testing.T) []event.Event
		long   bool
	}{
		{"cirebon story", func(t *testing.T) []event.Event { return storyEvents(func(w *world) { cirebon(w, 16) }) }, false},
		{"simulated 21 days", func(t *testing.T) []event.Event { return simulatedWorld(t) }, false},
		{"public-small", func(t *testing.T) []event.Event { return loadScenario(t, "public-small") }, false},
		{"public-twoweeks", func(t *testing.T) []event.Event { return loadScenario(t, "public-twoweeks") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.long && testing.Short() {
				t.Skip("long: runs without -short")
			}
			evs := tc.events(t)
			r := rand.New(rand.NewPCG(uint64(len(evs)), 10))
			cuts := []int{0, len(evs) - 1}
			for range 5 {
				cuts = append(cuts, r.IntN(len(evs)))
			}
			cfg := DefaultConfig()
			want, _ := checkpointRun(t, cfg, evs, nil)
			if again, _ := checkpointRun(t, cfg, evs, nil); !reflect.DeepEqual(again, want) {
				compareRecords(t, again, want)
				t.Fatal("two uninterrupted runs differ: the engine is not deterministic, so nothing can be compared")
			}
			got, written := checkpointRun(t, cfg, evs, cuts)
			if len(want.alerts) == 0 || len(want.signals) == 0 || len(want.sessions) == 0 {
				t.Fatalf("the world raises %d alert versions, %d signals, %d sessions: it tests too little",
					len(want.alerts), len(want.signals), len(want.sessions))
			}
			compareRecords(t, got, want)
			sizes := make([]int, len(written))
			for i, b := range written {
				sizes[i] = len(b)
			}
			t.Logf("%d events, %d alert versions, %d signals, %d sessions; checkpoints before events %v: %v bytes",
				len(evs), len(want.alerts), len(want.signals), len(want.sessions), cuts, sizes)
		})
	}
}

func compareRecords(t *testing.T, got, want record) {
	t.Helper()
	if got.stats != want.stats {
		t.Errorf("stats %+v, uninterrupted %+v", got.stats, want.stats)
	}
	if len(got.alerts) != len(want.alerts) {
		t.Errorf("%d alert versions, uninterrupted %d", len(got.alerts), len(want.alerts))
	}
	for i := range min(len(got.alerts), len(want.alerts)) {
		if !reflect.DeepEqual(got.alerts[i], want.alerts[i]) {
			t.Fatalf("alert version %d:\n got %+v\nwant %+v", i, got.alerts[i], want.alerts[i])
		}
	}
	if !reflect.DeepEqual(got.signals, want.signals) {
		t.Errorf("signals differ (%d, uninterrupted %d)", len(got.signals), len(want.signals))
	}
	if !reflect.DeepEqual(got.sessions, want.sessions) {
		t.Errorf("sessions differ (%d, uninterrupted %d)", len(got.sessions), len(want.sessions))
		for i := range min(len(got.sessions), len(want.sessions)) {
			if !reflect.DeepEqual(got.sessions[i], want.sessions[i]) {
				t.Errorf("session %d:\n got %+v\nwant %+v", i, got.sessions[i], want.sessions[i])
				break
			}
		}
	}
}

// TestCheckpointStable: one state, one byte string.
func TestCheckpointStable(t *testing.T) {
	t.Parallel()
	evs := simulatedWorld(t)
	e, _ := New(DefaultConfig())
	for i := range evs[:len(evs)/2] {
		e.Apply(&evs[i])
	}
	a, b := checkpointBytes(t, e), checkpointBytes(t, e)
	if !bytes.Equal(a, b) {
		t.Fatal("two checkpoints of one state differ")
	}
	if e.Stats().OpenAlerts == 0 || e.Stats().Streams == 0 {
		t.Fatalf("state %+v has no open alert or live stream: a weak test", e.Stats())
	}
}

// TestCheckpointHoldsNoViewerIDs: viewers (gift and chat senders) are counted
// by keyed hash only; none of their ids is in a checkpoint.
func TestCheckpointHoldsNoViewerIDs(t *testing.T) {
	t.Parallel()
	evs := simulatedWorld(t)
	entities := map[string]bool{}
	viewers := map[string]bool{}
	for _, ev := range evs {
		for _, id := range []string{ev.HostID, ev.AccountID, ev.FromID, ev.ToID, ev.ToAccount, ev.AgencyID} {
			entities[id] = true
		}
		if ev.Type == event.TypeGift || ev.Type == event.TypeChat {
			viewers[ev.SenderID] = true
		}
	}
	e, _ := New(DefaultConfig())
	var cps [][]byte
	for i := range evs {
		e.Apply(&evs[i])
		if i%(len(evs)/4) == 0 {
			cps = append(cps, checkpointBytes(t, e))
		}
	}
	n := 0
	for v := range viewers {
		if entities[v] {
			continue // a host chatting in its own stream is an entity
		}
		n++
		for _, cp := range cps {
			if bytes.Contains(cp, []byte(v)) {
				t.Fatalf("a checkpoint holds viewer id %q", v)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d viewer ids checked", n)
	}
}

// storyCheckpoint is a small checkpoint with every kind of state: a ring's
// open alert, live streams, places, accounts.
func storyCheckpoint(t testing.TB) []byte {
	evs := storyEvents(func(w *world) { cirebon(w, 4) })
	e, _ := New(DefaultConfig())
	for i := range evs[:len(evs)-10] { // stop while streams are live
		e.Apply(&evs[i])
	}
	if st := e.Stats(); st.OpenAlerts == 0 || st.Streams == 0 {
		t.Fatalf("story state %+v: no open alert or live stream", st)
	}
	return checkpointBytes(t, e)
}

// sections returns the offsets at which each section of a checkpoint begins.
func sections(b []byte) []int {
	var offs []int
	for p := 16; p+9 <= len(b); {
		offs = append(offs, p)
		p += 9 + int(binary.LittleEndian.Uint64(b[p+1:])) + 4
	}
	return offs
}

// TestCheckpointDamaged: a truncated, flipped, foreign or future checkpoint
// is refused with a clear error, never a panic, never a partial engine.
func TestCheckpointDamaged(t *testing.T) {
	t.Parallel()
	good := storyCheckpoint(t)
	offs := sections(good)
	if len(offs) != len(sectionOrder)+1 {
		t.Fatalf("found %d sections, want %d and the end", len(offs), len(sectionOrder))
	}
	type damaged struct {
		name string
		data []byte
		want error
	}
	var cases []damaged
	for n := 0; n < len(good); n += 1 + n/64 {
		cases = append(cases, damaged{fmt.Sprintf("truncated to %d", n), good[:n], ErrCheckpointCorrupt})
	}
	flip := func(name string, i int) {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		cases = append(cases, damaged{name, b, ErrCheckpointCorrupt})
	}
	for i := range 16 {
		flip(fmt.Sprintf("header byte %d", i), i)
	}
	for s, off := range offs {
		name := "end"
		if s < len(sectionOrder) {
			name = sectionOrder[s].name
		}
		next := len(good)
		if s+1 < len(offs) {
			next = offs[s+1]
		}
		for _, i := range []int{off, off + 1, off + 5, (off + next) / 2, next - 5, next - 1} {
			flip(fmt.Sprintf("section %s byte %d", name, i), i)
		}
	}
	b := bytes.Clone(good)
	copy(b, "RONDADUP")
	cases = append(cases, damaged{"deduper magic", b, ErrCheckpointCorrupt})
	b = bytes.Clone(good)
	binary.LittleEndian.PutUint32(b[8:], CheckpointVersion+1)
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], crc32.MakeTable(crc32.Castagnoli)))
	cases = append(cases, damaged{"next version", b, ErrCheckpointVersion})

	for _, tc := range cases {
		e, err := ReadCheckpoint(DefaultConfig(), bytes.NewReader(tc.data))
		if e != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, %v; want no engine and %v", tc.name, e, err, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "read analyzer checkpoint: ") {
			t.Errorf("%s: error %q does not say what it read", tc.name, err)
		}
	}
	_, err := ReadCheckpoint(DefaultConfig(), bytes.NewReader(cases[len(cases)-1].data))
	if want := fmt.Sprintf("found format version %d, this build reads versions %d to %d", CheckpointVersion+1, oldestCheckpointVersion, CheckpointVersion); !strings.Contains(err.Error(), want) {
		t.Errorf("version error %q does not say %q", err, want)
	}
	t.Logf("%d damaged copies of a %d-byte checkpoint refused", len(cases), len(good))
}

// TestCheckpointConfig: a checkpoint is refused under another window, cell
// precision or prefix, which key the state, and read under other thresholds.
func TestCheckpointConfig(t *testing.T) {
	t.Parallel()
	good := storyCheckpoint(t)
	cases := []struct {
		name   string
		change func(*Config)
		want   error
	}{
		{"window", func(c *Config) { c.Window = 7 * 24 * time.Hour }, ErrRestartNeeded},
		{"cell precision", func(c *Config) { c.Colocation.CellPrecision = 6 }, ErrRestartNeeded},
		{"ipv4 prefix", func(c *Config) { c.Colocation.IPv4Prefix = 16 }, ErrRestartNeeded},
		{"ipv6 prefix", func(c *Config) { c.Colocation.IPv6Prefix = 64 }, ErrRestartNeeded},
		{"thresholds", func(c *Config) { c.Scoring.Cooldown = time.Hour; c.DefaultTZ = "Asia/Manila" }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tc.change(&cfg)
			e, err := ReadCheckpoint(cfg, bytes.NewReader(good))
			if !errors.Is(err, tc.want) || (err == nil) != (e != nil) {
				t.Fatalf("got %v, %v; want %v", e, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "written under window 336h0m0s, cell precision 7, prefixes /24 and /48") {
				t.Errorf("error %q does not say what the checkpoint was written under", err)
			}
			if e != nil && e.Config().Scoring.Cooldown != time.Hour {
				t.Error("the configuration given is not the engine's")
			}
		})
	}
	bad := DefaultConfig()
	bad.Window = 0
	if e, err := ReadCheckpoint(bad, bytes.NewReader(good)); e != nil || err == nil {
		t.Errorf("an invalid configuration was taken: %v", err)
	}
}

// TestCheckpointFields fails when an engine struct gains or loses a field, so
// that the checkpoint (checkpoint.go, checkpoint_state.go) and
// CheckpointVersion follow.
func TestCheckpointFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v      any
		fields string
	}{
		// wire is a bounded memory of the app's ended streams, deliberately
		// not checkpointed (wire.go): after a restart a stream.wire names its
		// host itself or is reported without one. senderTZ is a cache of
		// zone names, filled again as gifts name them (country.go). Stats'
		// ZonesFallback counts this process's lookups only (engine.go).
		{Engine{}, "cfg fams now key tz defTZ senderTZ streams hosts accounts places alerts wire ho nextSweep nextEvict evalGen started dirty out stats inCall OnSignal OnSession"},
		{Stats{}, "Events Unknown Streams Hosts Accounts Places OpenAlerts Evicted AlertsEmitted SignalsRaised HandoverMarksDropped ZonesFallback"},
		{hostState{}, "id created birthYear verified tz agency firstStream lastSeen lastEval streams liveStream lastStreams days devices places nets coins foreignNightCoins topCoins payoutOther payoutSelf payMethods beneficiaries directives directedGifts beats privateBeats ageCues ageQuestion ageSignal extSignal extLabel decisive recruiters handovers devLinks eval evalGen alert signal"},
		{dayStat{}, "day minutes nightMinutes shift"},
		{placeRef{}, "key sessions last"},
		{acctLink{}, "id coins at"},
		{acctState{}, "id lastSeen lure lureCues legit dmTargets recruits payers"},
		{placeState{}, "key near kind lastSeen hosts overflow sessions"},
		{session{}, "host start end"},
		{streamState{}, "id host start last loc device cell net directors senders coins beats private directed folded gifts foreign minutes night together"},
		{hostEval{}, "at scores sev evidence"},
		{scheduleEvidence{}, "minutes nightMinutes nights togetherNights activeDays"},
		{colocEvidence{}, "key kind hosts fresh"},
		{recruitEvidence{}, "recruiter lure recruits via"},
		{moneyEvidence{}, "beneficiary payers newPayers shiftPayer payoutOther foreignNightShare"},
		{audienceEvidence{}, "directed directives privateShare"},
		{ageEvidence{}, "years source"},
		{accountAgeEvidence{}, "days"},
		{alertState{}, "id created last emitted updates sev score hosts entities nEmitted changed merged"},
	}
	for _, tc := range cases {
		typ := reflect.TypeOf(tc.v)
		var names []string
		for i := range typ.NumField() {
			names = append(names, typ.Field(i).Name)
		}
		if got := strings.Join(names, " "); got != tc.fields {
			t.Errorf("%s has fields\n  %s\nthe checkpoint knows\n  %s\nwrite and read the new ones in checkpoint.go, checkpoint_state.go or the family's Save and Load, and raise CheckpointVersion",
				typ.Name(), got, tc.fields)
		}
	}
}

// FuzzReadCheckpoint: any input is read or refused without a panic; what is
// read writes back to a checkpoint that reads as the same state, and the
// engine keeps working. mode 0 reads data as it is; mode 1 reseals its
// checksums first, since a fuzzer seldom guesses a CRC; mode 2 and up puts
// data as the payload of section mode-2 of a good checkpoint, so that each
// section's decoder is fuzzed between valid ones.
func FuzzReadCheckpoint(f *testing.F) {
	good := storyCheckpoint(f)
	f.Add(good, uint8(0))
	f.Add(good[:len(good)/2], uint8(0))
	offs := sections(good)
	for i, off := range offs {
		b := bytes.Clone(good)
		b[off+12] ^= 1
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
		if i < len(sectionOrder) {
			end := off + 9 + int(binary.LittleEndian.Uint64(good[off+1:]))
			f.Add(bytes.Clone(good[off+9:end]), uint8(2+i))
		}
	}
	e, _ := New(DefaultConfig())
	f.Add(checkpointBytes(f, e), uint8(0))
	more := storyEvents(func(w *world) { cirebon(w, 2) })
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		switch {
		case mode == 1:
			snapshot.Reseal(data)
		case mode >= 2:
			data = snapshot.Replace(good, int(mode-2)%len(sectionOrder), data)
		}
		e, err := ReadCheckpoint(DefaultConfig(), bytes.NewReader(data))
		if err != nil {
			if e != nil {
				t.Fatal("an engine returned with an error")
			}
			return
		}
		once := checkpointBytes(t, e)
		e2, err := ReadCheckpoint(DefaultConfig(), bytes.NewReader(once))
		if err != nil {
			t.Fatalf("a checkpoint written from a restored engine does not read: %v", err)
		}
		if twice := checkpointBytes(t, e2); !bytes.Equal(once, twice) {
			t.Fatal("written, read and written again, the checkpoint differs")
		}
		for i := range more {
			ev := more[i]
			e.Apply(&ev)
		}
		e.Flush()
	})
}

// TestCheckpointsShareAStream: an engine's and a deduper's checkpoints
// written one after the other read back one after the other.
func TestCheckpointsShareAStream(t *testing.T) {
	t.Parallel()
	evs := storyEvents(func(w *world) { cirebon(w, 3) })
	e, _ := New(DefaultConfig())
	d := event.NewDeduper(24*time.Hour, 1000)
	for i := range evs {
		if !d.Seen(fmt.Sprint(i%500), evs[i].At) {
			e.Apply(&evs[i])
		}
	}
	var buf bytes.Buffer
	if err := e.WriteCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	e2, err := ReadCheckpoint(DefaultConfig(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := event.ReadDeduper(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 || e2.Stats() != e.Stats() || d2.Stats() != d.Stats() {
		t.Fatalf("%d bytes left; stats %+v and %+v, want %+v and %+v", buf.Len(), e2.Stats(), d2.Stats(), e.Stats(), d.Stats())
	}
}

// TestCheckpointInsideACall: a checkpoint is refused from a callback, where
// the engine is between the steps of one event.
func TestCheckpointInsideACall(t *testing.T) {
	t.Parallel()
	evs := storyEvents(func(w *world) { cirebon(w, 2) })
	e, _ := New(DefaultConfig())
	var errs []error
	e.OnSession = func(Session) { errs = append(errs, e.WriteCheckpoint(io.Discard)) }
	for i := range evs {
		e.Apply(&evs[i])
	}
	if len(errs) == 0 {
		t.Fatal("no session ended")
	}
	for _, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "inside a call") {
			t.Fatalf("checkpoint from OnSession: %v", err)
		}
	}
}
