package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzDecodeClient feeds the client message decoder anything: it must never
// panic, must refuse with a decodeError, and what it accepts must be a known
// action within every limit that survives a round trip.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"action","request_id":"r1","alert_id":"a1","action":"claim"}`,
		`{"type":"action","request_id":"r2","alert_id":"a1","action":"assign","target":"ana"}`,
		`{"type":"action","alert_id":"a1","action":"dismiss","reason":"benign: a family"}`,
		`{"type":"action","alert_id":"a1","action":"escalate","note":"minor on camera"}`,
		`{"type":"action","alert_id":"a1","action":"note","note":"\u00e9\ud83d\ude00"}`,
		`{"type":"action","alert_id":"","action":"ack"}`,
		`{"type":"action","alert_id":"a1","action":"ack"} {}`,
		`{"type":"action","alert_id":"a1","action":"ack","extra":1}`,
		`{"type":"hello"}`, `[]`, `null`, `{"type":"action","alert_id":1}`, "\xff", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeClient(b)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) || de.code == "" || len(de.requestID) > maxID {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		if m.Type != "action" || m.AlertID == "" || len(m.AlertID) > maxID || len(m.RequestID) > maxID ||
			len(m.Target) > maxID || len(m.Reason) > maxReason || len(m.Note) > maxNote {
			t.Fatalf("accepted %+v", m)
		}
		switch m.Action {
		case ActClaim, ActAck, ActAssign, ActEscalate, ActDismiss, ActNote:
		default:
			t.Fatalf("accepted action %q", m.Action)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeClient(again)
		if err != nil || m2 != m {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}

// FuzzDecodeState feeds the state decoder anything, as a damaged or foreign
// file read back from disk: it must never panic; what it accepts must restore
// into a fresh hub, and encode to bytes that decode to the same encoding.
func FuzzDecodeState(f *testing.F) {
	h, err := New(Options{Tokens: []Token{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}}})
	if err != nil {
		f.Fatal(err)
	}
	h.Publish(alert("a1", 0))
	h.Publish(alert("a2", 1))
	h.mu.Lock()
	h.alerts["a1"].claimedBy, h.alerts["a1"].claimUntil = "ana", time.Date(2026, 3, 1, 21, 15, 0, 0, time.UTC)
	h.alerts["a2"].addNote(Note{At: time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), By: "ana", Text: "seen"})
	h.alerts["a2"].status, h.alerts["a2"].escalatedBy = statusEscalated, "lea"
	h.mu.Unlock()
	_ = h.Close()
	good, err := h.State().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, s := range []string{
		`{"version":1,"final":false,"seq":0,"alerts":[],"ring":[]}`,
		`{"version":1,"final":true,"seq":1,"alerts":null,"ring":[{"seq":1,"msg":{"type":"alert","seq":1}}]}`,
		`{"version":1,"seq":2,"ring":[{"seq":1,"msg":{"type":"alert","seq":1}},{"seq":3,"msg":{}}]}`,
		`{"version":1,"alerts":[{"alert":{"id":"x","at":"2026-03-01T20:00:00Z","severity":"high"},"status":"open","claimed_by":"a"}]}`,
		`{"version":2}`, `{"version":1} x`, `{"version":1,"seq":-1}`, `null`, `[]`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			return
		}
		fresh, err := New(Options{Tokens: []Token{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}},
			Now: func() time.Time { return time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		if err := fresh.Restore(s); err != nil {
			t.Fatalf("decoded but not restored: %v", err)
		}
		enc, err := s.Encode()
		if err != nil {
			return // a time or number that does not encode again (a year past 9999)
		}
		again, err := DecodeState(enc)
		if err != nil {
			t.Fatalf("own encoding refused: %v\n%s", err, enc)
		}
		enc2, err := again.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed:\n%s\n%s", enc, enc2)
		}
	})
}
