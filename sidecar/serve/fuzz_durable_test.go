package serve

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	codec "github.com/ronda-watch/ronda/analyzer/snapshot"
)

// FuzzLogRecord: an intake log record read back from disk (its checksum held,
// so the bytes are what some version wrote) decodes or errs, never panics;
// what decodes re-encodes to a record that decodes to the same events.
func FuzzLogRecord(f *testing.F) {
	var buf bytes.Buffer
	evs := []event.Event{{ID: "e1", Type: event.TypeChat, TypeName: "chat", At: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), StreamID: "s1", SenderID: "v1", Text: "hi"}}
	encodeLogRecord(&buf, time.Unix(1700000000, 5), evs)
	f.Add(bytes.Clone(buf.Bytes()))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2})
	f.Add(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}, "{\"id\":\"x\"}\n"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		wall, evs, err := decodeLogRecord(b)
		if err != nil {
			return
		}
		var re bytes.Buffer
		if err := encodeLogRecord(&re, wall, evs); err != nil {
			t.Fatal(err)
		}
		wall2, evs2, err := decodeLogRecord(re.Bytes())
		if err != nil || !wall2.Equal(wall) || len(evs2) != len(evs) {
			t.Fatalf("re-encoded record: %v, %d events, want %d", err, len(evs2), len(evs))
		}
	})
}

// FuzzCheckpointContainer: a checkpoint file read back from disk is a whole
// checkpoint of this format or an error, never a panic or a misread.
func FuzzCheckpointContainer(f *testing.F) {
	var buf bytes.Buffer
	snap := snapshot{meta: ckptMeta{Position: 7, Written: time.Unix(1700000000, 0).UTC(), Node: "n"},
		engine: []byte("engine"), dedup: []byte("dedup"), hubB: []byte("hub")}
	encodeCheckpoint(&buf, snap)
	good := bytes.Clone(buf.Bytes())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(ckptFormat.Magic))
	f.Add([]byte("RONDASC9"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// A fuzzer seldom guesses a CRC: the input resealed reaches the
		// sections behind the checksums.
		if len(b) > 0 && b[0]&1 == 1 {
			b = bytes.Clone(b)
			codec.Reseal(b)
		}
		s, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, errCheckpointDamaged) {
				t.Fatalf("error %v does not wrap errCheckpointDamaged", err)
			}
			return
		}
		var re bytes.Buffer
		if err := encodeCheckpoint(&re, s); err != nil {
			t.Fatal(err)
		}
		s2, err := decodeCheckpoint(re.Bytes())
		if err != nil || s2.meta.Position != s.meta.Position || !bytes.Equal(s2.engine, s.engine) ||
			!bytes.Equal(s2.dedup, s.dedup) || !bytes.Equal(s2.hubB, s.hubB) {
			t.Fatalf("re-encoded checkpoint differs: %v", err)
		}
	})
}

func TestCheckpointContainerDamage(t *testing.T) {
	var buf bytes.Buffer
	snap := snapshot{meta: ckptMeta{Position: 7}, engine: []byte("engine-state")}
	encodeCheckpoint(&buf, snap)
	good := buf.Bytes()
	if s, err := decodeCheckpoint(good); err != nil || s.meta.Position != 7 || string(s.engine) != "engine-state" {
		t.Fatalf("good checkpoint: %v %+v", err, s)
	}
	for name, b := range map[string][]byte{
		"cut short":   good[:len(good)-5],
		"no end":      good[:len(good)-13],
		"trailing":    append(bytes.Clone(good), 0),
		"flipped":     func() []byte { c := bytes.Clone(good); c[len(good)-20] ^= 1; return c }(),
		"other magic": append([]byte("RONDASC2"), good[8:]...),
		"other version": func() []byte {
			c := bytes.Clone(good)
			c[8] = 2
			codec.Reseal(c)
			return c
		}(),
		"empty": nil,
	} {
		if _, err := decodeCheckpoint(b); !errors.Is(err, errCheckpointDamaged) {
			t.Errorf("%s: %v, want errCheckpointDamaged", name, err)
		}
	}
	c := bytes.Clone(good)
	c[8] = 2
	codec.Reseal(c)
	if _, err := decodeCheckpoint(c); !errors.Is(err, errCheckpointOld) {
		t.Errorf("other version: %v, want errCheckpointOld", err)
	}
}

// FuzzEdgeMark: an edge's log position read back from disk is a position
// this code wrote or an error, never a panic.
func FuzzEdgeMark(f *testing.F) {
	f.Add(encodeEdgeMark(0))
	f.Add(encodeEdgeMark(1 << 40))
	f.Add([]byte("REA1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, err := decodeEdgeMark(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEdgeMark(seq), b) {
			t.Fatalf("position %d decoded from %x, which is not what it encodes to", seq, b)
		}
	})
}
