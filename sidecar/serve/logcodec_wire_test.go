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
	v2 = v2[:len(v2)-3] // the empty phase and network, and no facts
	gotWall, got, err := decodeLogRecord(v2)
	if err != nil || !gotWall.Equal(wall) || len(got) != 1 || got[0].Text != "hi" || got[0].ID != "c1" {
		t.Fatalf("version 2 record: %v %+v", err, got)
	}
}
