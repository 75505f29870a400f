package serve

import (
	"bytes"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestLogRecordV2: an intake log written before stream.wire (version 2, the
// events without its fields) is still read after an upgrade.
func TestLogRecordV2(t *testing.T) {
	ev := event.Event{ID: "c1", Type: event.TypeChat, TypeName: "chat", At: time.Unix(1700000000, 0).UTC(), StreamID: "s", SenderID: "v", Text: "hi"}
	var buf bytes.Buffer
	wall := time.Unix(1700000000, 7)
	encodeLogRecord(&buf, wall, []event.Event{ev})
	v2 := append([]byte(nil), buf.Bytes()...)
	v2[0] = logRecordVersionV2
	v2 = v2[:len(v2)-4] // the empty phase and network, no facts, the empty sender_tz
	gotWall, got, err := decodeLogRecord(v2)
	if err != nil || !gotWall.Equal(wall) || len(got) != 1 || got[0].Text != "hi" || got[0].ID != "c1" {
		t.Fatalf("version 2 record: %v %+v", err, got)
	}
}

// TestLogRecordV3: an intake log written before gift.sender_tz (version 3,
// the events without it) is still read after an upgrade.
func TestLogRecordV3(t *testing.T) {
	ev := event.Event{ID: "g1", Type: event.TypeGift, TypeName: "gift", At: time.Unix(1700000000, 0).UTC(), StreamID: "s",
		HostID: "h", SenderID: "v", Coins: 5, SenderCountry: "US", Phase: "live"}
	var buf bytes.Buffer
	wall := time.Unix(1700000000, 7)
	encodeLogRecord(&buf, wall, []event.Event{ev})
	v3 := append([]byte(nil), buf.Bytes()...)
	v3[0] = logRecordVersionV3
	v3 = v3[:len(v3)-1] // the empty sender_tz
	gotWall, got, err := decodeLogRecord(v3)
	if err != nil || !gotWall.Equal(wall) || len(got) != 1 || got[0].SenderCountry != "US" || got[0].Phase != "live" || got[0].SenderTZ != "" {
		t.Fatalf("version 3 record: %v %+v", err, got)
	}
	// A version 4 record cut the same way is damaged, not read as version 3.
	if _, _, err := decodeLogRecord(buf.Bytes()[:buf.Len()-1]); err == nil {
		t.Fatal("a truncated version 4 record decoded")
	}
}
