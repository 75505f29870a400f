package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const wireLine = `{"type":"stream.wire","id":"w1","at":"2025-06-02T13:05:00Z","node":"edge-1","stream_id":"s1","host_id":"h1",` +
	`"phase":"live","network":"203.0.113.0/24","facts":{"source":"whip","start":"2025-06-02T13:00:00Z",` +
	`"video_codec":"vp8","width":1280,"height":720,"fps":29.97,"video_bitrate_bps":2000000,"keyframe_interval_s":2,` +
	`"audio_codec":"opus","audio":true,"silent":false,"audio_bitrate_bps":48000,"lost":3,"jitter_ms":1.5,"later":{"x":[1]}}}`

func TestDecodeStreamWire(t *testing.T) {
	t.Parallel()
	var d Decoder
	var ev Event
	if err := d.Decode([]byte(wireLine), &ev); err != nil {
		t.Fatal(err)
	}
	want := &WireFacts{Source: "whip", Start: time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC), VideoCodec: "vp8", Width: 1280, Height: 720,
		FPS: 29.97, VideoBitrateBps: 2_000_000, KeyframeIntervalS: 2, AudioCodec: "opus", Audio: true, AudioBitrateBps: 48000, Lost: 3, JitterMs: 1.5}
	if ev.Type != TypeStreamWire || ev.StreamID != "s1" || ev.HostID != "h1" || ev.Phase != WireLive || ev.Network != "203.0.113.0/24" {
		t.Fatalf("event %+v", ev)
	}
	if !ev.Wire.Start.Equal(want.Start) {
		t.Fatalf("start %v", ev.Wire.Start)
	}
	ev.Wire.Start = want.Start
	if !reflect.DeepEqual(ev.Wire, want) {
		t.Fatalf("facts\n got %+v\nwant %+v", ev.Wire, want)
	}
	// Encoded, it decodes to the same event.
	b, _ := json.Marshal(ev)
	var again Event
	if err := d.Decode(b, &again); err != nil || again.Wire == nil || again.Wire.Width != 1280 || again.Phase != WireLive {
		t.Fatalf("round trip of %s: %+v %v", b, again, err)
	}

	for _, c := range []struct{ name, edit, field, reason string }{
		{"no stream", `"stream_id":"s1",`, "stream_id", "required"},
		{"no phase", `"phase":"live",`, "phase", "required"},
		{"bad phase", `"phase":"live"` + "|" + `"phase":"paused"`, "phase", "must be started, live or ended"},
		{"full address", `"203.0.113.0/24"|"203.0.113.7/32"`, "network", "/24 (IPv4) or /48 (IPv6)"},
		{"plain address", `"203.0.113.0/24"|"203.0.113.7"`, "network", "/24"},
		{"v6 /64", `"203.0.113.0/24"|"2001:db8:1:2::/64"`, "network", "/48"},
		{"facts not object", `"facts":{|"facts":[{`, "", ""},
		{"width text", `"width":1280|"width":"1280"`, "facts.width", "integer"},
		{"width huge", `"width":1280|"width":99999`, "facts.width", "integer between 0 and 16384"},
		{"negative fps", `"fps":29.97|"fps":-1`, "facts.fps", "number between 0"},
		{"fractional bitrate", `2000000|2000000.5`, "facts.video_bitrate_bps", "integer"},
		{"audio not bool", `"audio":true|"audio":1`, "facts.audio", "true or false"},
		{"bad start", `"start":"2025-06-02T13:00:00Z"|"start":"yesterday"`, "facts.start", "RFC 3339"},
		{"long codec", `"vp8"|"` + strings.Repeat("v", 33) + `"`, "facts.video_codec", "at most 32"},
		{"repeated key", `"lost":3|"lost":3,"lost":4`, "facts.lost", "more than once"},
	} {
		t.Run(c.name, func(t *testing.T) {
			line := wireLine
			if from, to, ok := strings.Cut(c.edit, "|"); ok {
				line = strings.Replace(line, from, to, 1)
			} else {
				line = strings.Replace(line, c.edit, "", 1)
			}
			if c.name == "facts not object" {
				line = strings.Replace(line, `"later":{"x":[1]}}}`, `"later":{"x":[1]}}]}`, 1)
			}
			err := d.Decode([]byte(line), &ev)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%s: %v, want a field error", line, err)
			}
			if c.field != "" && (fe.Field != c.field || !strings.Contains(fe.Reason, c.reason)) {
				t.Fatalf("got %q %q, want %q with %q", fe.Field, fe.Reason, c.field, c.reason)
			}
		})
	}
}

// FuzzDecodeStreamWire: any line decodes to an error or to a stream.wire
// whose facts are within their bounds and which survives encoding.
func FuzzDecodeStreamWire(f *testing.F) {
	f.Add([]byte(wireLine))
	f.Add([]byte(`{"type":"stream.wire","id":"a","at":"2025-06-02T13:05:00Z","stream_id":"s","phase":"ended","facts":{}}`))
	f.Add([]byte(`{"type":"stream.wire","id":"a","at":"2025-06-02T13:05:00Z","stream_id":"s","phase":"started","network":"2001:db8:1::/48","facts":{"width":1e3,"lost":null}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var d Decoder
		var ev Event
		if d.Decode(line, &ev) != nil || ev.Type != TypeStreamWire {
			return
		}
		if w := ev.Wire; w != nil && (w.Width < 0 || w.Width > maxWireSide || w.Height > maxWireSide || w.FPS < 0 || w.FPS > maxWireFPS ||
			w.Lost < 0 || len(w.Source) > maxWireShort || len(w.VideoCodec) > maxWireShort) {
			t.Fatalf("out of bounds: %+v", w)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var again Event
		if err := d.Decode(b, &again); err != nil {
			t.Fatalf("%s encoded as %s does not decode: %v", line, b, err)
		}
	})
}
