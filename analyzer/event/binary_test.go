package event

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

var errTestBinary = errors.New("test record")

// TestBinaryBounds: a string longer than MaxEventBytes and a list longer
// than the bytes left are refused with the caller's error, and a good event
// round-trips (the reflection test over every field is sidecar/serve's
// TestLogRecordCoversEveryField).
func TestBinaryBounds(t *testing.T) {
	yes := true
	good := Event{Type: TypeChat, TypeName: "chat", ID: "e1", At: time.Date(2025, 6, 1, 12, 0, 0, 5, time.FixedZone("", -3*3600)),
		Tags: []string{"a", "b"}, Host: &HostFacts{BirthYear: 1990, AgeVerified: &yes}, Text: "hi", Score: 0.5}
	var enc snapshot.Enc
	EncodeBinary(&enc, &good)
	var got Event
	d := snapshot.NewDec(enc.B, errTestBinary, "event")
	DecodeBinary(d, &got)
	if err := d.Done(); err != nil || got.ID != "e1" || !got.At.Equal(good.At) || len(got.Tags) != 2 || !*got.Host.AgeVerified {
		t.Fatalf("round trip: %v %+v", err, got)
	}

	long := good
	long.ID = strings.Repeat("x", MaxEventBytes+1)
	enc = snapshot.Enc{}
	EncodeBinary(&enc, &long)
	d = snapshot.NewDec(enc.B, errTestBinary, "event")
	DecodeBinary(d, &got)
	if err := d.Err(); !errors.Is(err, errTestBinary) {
		t.Fatalf("a string over MaxEventBytes: %v", err)
	}

	// Type, type name "", id "", zero time, four empty strings, then a tag
	// count far past the bytes left.
	b := []byte{byte(TypeChat), 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03}
	d = snapshot.NewDec(b, errTestBinary, "event")
	DecodeBinary(d, &got)
	if err := d.Err(); !errors.Is(err, errTestBinary) || got.Tags != nil {
		t.Fatalf("a tag count past the bytes left: %v, %d tags", err, len(got.Tags))
	}
}
