package analyzer

import (
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestStreamWire reads like a story: what the wire says against what the app
// says.
func TestStreamWire(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC) // 20:00 in Jakarta
	facts := &event.WireFacts{Source: "whip", VideoCodec: "vp8", Width: 1280, Height: 720, FPS: 30, VideoBitrateBps: 2_000_000, Audio: true, Silent: true}
	wire := func(id, stream, host, phase string, at time.Time) *event.Event {
		return &event.Event{Type: event.TypeStreamWire, ID: id, At: at, StreamID: stream, HostID: host, Phase: phase,
			Network: "203.0.113.0/24", Wire: facts}
	}
	newEngine := func() (*Engine, *[]Signal, *[]Session) {
		e, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		var sigs []Signal
		var sess []Session
		e.OnSignal = func(s Signal) {
			if s.Detector == "wire" {
				sigs = append(sigs, s)
			}
		}
		e.OnSession = func(s Session) { sess = append(sess, s) }
		return e, &sigs, &sess
	}

	t.Run("keeps the app's stream alive like a heartbeat", func(t *testing.T) {
		e, sigs, sess := newEngine()
		e.Apply(&event.Event{Type: event.TypeStreamStart, ID: "a", At: t0, StreamID: "s1", HostID: "h1"})
		// No app heartbeat for two hours; the wire reports every 10 minutes.
		for i := 1; i <= 12; i++ {
			e.Apply(wire("w"+string(rune('a'+i)), "s1", "", event.WireLive, t0.Add(time.Duration(i)*10*time.Minute)))
		}
		e.Apply(&event.Event{Type: event.TypeStreamEnd, ID: "b", At: t0.Add(2 * time.Hour), StreamID: "s1"})
		if len(*sess) != 1 || (*sess)[0].Minutes != 120 || (*sess)[0].Heartbeats != 0 {
			t.Fatalf("sessions %+v: want one of 120 minutes (15-minute idle would end it at 0), no heartbeats counted", *sess)
		}
		if len(*sigs) != 0 {
			t.Fatalf("a stream the app announced raised %+v", *sigs)
		}
	})

	t.Run("live after the app's end is evidence on the host", func(t *testing.T) {
		e, sigs, sess := newEngine()
		e.Apply(&event.Event{Type: event.TypeStreamStart, ID: "a", At: t0, StreamID: "s1", HostID: "h1"})
		e.Apply(&event.Event{Type: event.TypeStreamEnd, ID: "b", At: t0.Add(time.Hour), StreamID: "s1"})
		for i := 1; i <= 6; i++ {
			e.Apply(wire("w"+string(rune('a'+i)), "s1", "", event.WireLive, t0.Add(time.Hour+time.Duration(i)*10*time.Minute)))
		}
		e.Apply(wire("wz", "s1", "", event.WireEnded, t0.Add(2*time.Hour)))
		e.Flush()
		if len(*sigs) != 1 {
			t.Fatalf("wire signals %+v, want one", *sigs)
		}
		s := (*sigs)[0]
		if s.Entity != (EntityRef{KindHost, "h1"}) || !strings.Contains(s.Summary, "after the app ended it") ||
			!strings.Contains(s.Summary, "1280x720, 30 fps, 2.0 Mbit/s, silent audio") {
			t.Fatalf("signal %+v", s)
		}
		h := e.hosts["h1"]
		if h.extLabel != "wire_unannounced" || h.extSignal != 0.8 || h.decisive {
			t.Fatalf("host's external signal %q %.2f decisive %v", h.extLabel, h.extSignal, h.decisive)
		}
		// The hidden hour counts as a broadcast of the host.
		if len(*sess) != 2 || (*sess)[1].Minutes != 50 {
			t.Fatalf("sessions %+v: want the app's and the hidden one of 50 minutes", *sess)
		}
	})

	t.Run("never started: on the stream, or the host it names", func(t *testing.T) {
		e, sigs, _ := newEngine()
		e.Apply(wire("w1", "ghost", "", event.WireStarted, t0))
		e.Apply(wire("w2", "ghost", "", event.WireLive, t0.Add(time.Minute)))
		e.Apply(wire("w3", "s9", "h9", event.WireLive, t0.Add(time.Minute)))
		if len(*sigs) != 2 || (*sigs)[0].Entity != (EntityRef{KindStream, "ghost"}) || !strings.Contains((*sigs)[0].Summary, "without the app ever starting it") ||
			(*sigs)[1].Entity != (EntityRef{KindHost, "h9"}) {
			t.Fatalf("signals %+v", *sigs)
		}
		if e.streams["ghost"] != nil || e.streams["s9"] == nil {
			t.Fatal("a stream without a host must not be made up; one with a host is its broadcast")
		}
	})
}
