package event

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// Reference models of Deduper and Orderer: plain slices, scanned and sorted
// on every call, obviously right and slow. The fuzzers drive both with the
// same steps and compare every answer.

type modelEntry struct {
	id  string
	at  time.Time
	seq int
}

func olderEntry(a, b modelEntry) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return a.seq - b.seq
}

type modelDeduper struct {
	window   time.Duration
	capacity int
	entries  []modelEntry
	latest   time.Time
	any      bool
	seq      int
	stats    DedupStats
}

func (m *modelDeduper) seen(id string, at time.Time) bool {
	if !m.any || at.After(m.latest) {
		m.latest, m.any = at, true
	}
	cutoff := m.latest.Add(-m.window)
	if m.window > 0 {
		m.entries = slices.DeleteFunc(m.entries, func(e modelEntry) bool {
			if e.at.Before(cutoff) {
				m.stats.Forgotten++
				return true
			}
			return false
		})
	}
	if slices.ContainsFunc(m.entries, func(e modelEntry) bool { return e.id == id }) {
		m.stats.Duplicates++
		return true
	}
	if m.window > 0 && at.Before(cutoff) {
		m.stats.Forgotten++
		return false
	}
	m.entries = append(m.entries, modelEntry{id: id, at: at, seq: m.seq})
	m.seq++
	if m.capacity > 0 && len(m.entries) > m.capacity {
		slices.SortFunc(m.entries, olderEntry)
		m.entries = m.entries[1:]
		m.stats.Forgotten++
	}
	m.stats.Live = len(m.entries)
	return false
}

// steps turns fuzz bytes into (id, time offset in seconds) pairs: ids from a
// small set so that duplicates happen, times mostly rising with jitter back.
func steps(data []byte) (ids []string, secs []float64) {
	now := 0.0
	for i := 0; i+1 < len(data); i += 2 {
		ids = append(ids, strconv.Itoa(int(data[i]%16)))
		j := float64(int(data[i+1]%32) - 8) // -8 .. +23
		if j > 0 {
			now += j / 4
			secs = append(secs, now)
		} else {
			secs = append(secs, now+j) // late by up to 8 s
		}
	}
	return ids, secs
}

func FuzzDeduper(f *testing.F) {
	f.Add(uint8(5), uint8(4), []byte("\x00\x10\x01\x10\x00\x02\x02\x1f\x03\x01\x00\x00\x01\x1f"))
	f.Add(uint8(0), uint8(2), []byte("abcdefghijklmnopqrstuvwxyz"))
	f.Add(uint8(3), uint8(0), []byte("\x01\x09\x01\x01\x02\x08\x03\x05\x01\x00"))
	f.Fuzz(func(t *testing.T, window, capacity uint8, data []byte) {
		w := time.Duration(window%16) * time.Second
		c := int(capacity % 8)
		d := NewDeduper(w, c)
		m := &modelDeduper{window: w, capacity: c}
		ids, secs := steps(data)
		for i := range ids {
			got, want := d.Seen(ids[i], at(secs[i])), m.seen(ids[i], at(secs[i]))
			if got != want {
				t.Fatalf("step %d Seen(%s, %v) = %v, model %v", i, ids[i], secs[i], got, want)
			}
			m.stats.Live = len(m.entries)
			if d.Stats() != m.stats {
				t.Fatalf("step %d: stats %+v, model %+v", i, d.Stats(), m.stats)
			}
		}
	})
}

type modelOrderer struct {
	lateness time.Duration
	max      int
	held     []modelEntry
	seq      int
	newest   time.Time
	mark     time.Time
	hasMark  bool
	hasNew   bool
	stats    OrderStats
}

func (m *modelOrderer) push(id string, at time.Time) bool {
	if m.hasMark && at.Before(m.mark) {
		m.stats.Late++
		return false
	}
	m.held = append(m.held, modelEntry{id: id, at: at, seq: m.seq})
	m.seq++
	if !m.hasNew || at.After(m.newest) {
		m.newest, m.hasNew = at, true
	}
	return true
}

func (m *modelOrderer) release(out *[]string, all bool) {
	slices.SortFunc(m.held, olderEntry)
	cutoff := m.newest.Add(-max(m.lateness, 0))
	n := 0
	for n < len(m.held) && (all || !m.held[n].at.After(cutoff)) {
		n++
	}
	for !all && m.max > 0 && len(m.held)-n > m.max {
		n++
		m.stats.Forced++
	}
	for _, e := range m.held[:n] {
		*out = append(*out, e.id)
		m.mark, m.hasMark = e.at, true
	}
	m.held = m.held[n:]
}

func FuzzOrderer(f *testing.F) {
	f.Add(uint8(3), uint8(4), []byte("\x00\x10\x01\x10\x00\x02\x02\x1f\x03\x01\x00\x00\x01\x1f"))
	f.Add(uint8(0), uint8(0), []byte("abcdefghijklmnopqrstuvwxyz"))
	f.Add(uint8(9), uint8(2), []byte("\x01\x09\x01\x01\x02\x08\x03\x05\x01\x00"))
	f.Fuzz(func(t *testing.T, lateness, maxBuf uint8, data []byte) {
		l := time.Duration(lateness%12) * time.Second / 2
		mb := int(maxBuf % 6)
		o := NewOrderer(l, mb)
		m := &modelOrderer{lateness: l, max: mb}
		ids, secs := steps(data)
		var got, want []string
		collect := func(ev *Event) { got = append(got, ev.ID) }
		for i := range ids {
			ev := Event{ID: ids[i] + "/" + strconv.Itoa(i), At: at(secs[i])}
			if o.Push(&ev) != m.push(ev.ID, ev.At) {
				t.Fatalf("step %d: Push disagrees with the model", i)
			}
			o.Release(collect)
			m.release(&want, false)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: released %v, model %v", i, got, want)
			}
			m.stats.Buffered = len(m.held)
			if o.Stats() != m.stats {
				t.Fatalf("step %d: stats %+v, model %+v", i, o.Stats(), m.stats)
			}
			if m.hasMark && !o.Watermark().Equal(m.mark) {
				t.Fatalf("step %d: watermark %v, model %v", i, o.Watermark(), m.mark)
			}
		}
		o.Drain(collect)
		m.release(&want, true)
		if !slices.Equal(got, want) {
			t.Fatalf("drain: released %v, model %v", got, want)
		}
	})
}
