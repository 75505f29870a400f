package hub

import (
	"encoding/json"
	"errors"
	"testing"
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
