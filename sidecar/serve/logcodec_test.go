package serve

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// fillAll sets every field of v (a struct) to a non-zero value, following
// pointers and slices, so that a field the log codec forgets shows.
func fillAll(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(1000 + *n))
	case reflect.Uint8:
		v.SetUint(uint64(1 + *n%200))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fillAll(t, v.Index(i), n)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(t, v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2025, 6, 1, 12, 0, *n, 123456789, time.FixedZone("", 7*3600))))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			fillAll(t, v.Field(i), n)
		}
	default:
		t.Fatalf("fillAll: field kind %v not handled: extend the log codec and this test", v.Kind())
	}
}

// TestLogRecordCoversEveryField: an event with every field set comes back
// from the intake log equal, field for field (a field added to event.Event
// and not to the codec fails here).
func TestLogRecordCoversEveryField(t *testing.T) {
	var full event.Event
	n := 0
	fillAll(t, reflect.ValueOf(&full).Elem(), &n)
	evs := []event.Event{full, {ID: "bare", Type: event.TypeChat, TypeName: "chat", At: time.Unix(1700000000, 0).UTC()}}
	f := false
	evs = append(evs, event.Event{ID: "h", Host: &event.HostFacts{AgeVerified: &f}})
	var buf bytes.Buffer
	wall := time.Unix(1700000000, 42)
	encodeLogRecord(&buf, wall, evs)
	gotWall, got, err := decodeLogRecord(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !gotWall.Equal(wall) || !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, evs)
	}
	for cut := 1; cut < buf.Len(); cut += 7 {
		if _, _, err := decodeLogRecord(buf.Bytes()[:cut]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", cut, buf.Len())
		}
	}
}
