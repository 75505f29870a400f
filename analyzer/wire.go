package analyzer

import (
	"fmt"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// What the media tap sees on the wire (stream.wire) against what the app
// says (stream.start, stream.end).
//
// While the app's stream is live, a stream.wire keeps it alive as a
// heartbeat does: its broadcast minutes, night minutes included, run as long
// as media flows, whatever the app's heartbeats do. It is not counted as a
// heartbeat, so the share of private-room heartbeats stays the app's.
//
// A broadcast live on the wire that the app never started, or that goes on
// after the app's stream.end, is hidden from the platform's own records: the
// pattern of an operator who keeps a room broadcasting while the app shows
// it ended. It becomes evidence in two forms: a signal record for analysts
// (OnSignal, detector "wire", with a sentence and the wire's figures), and an
// external signal of cfg.Wire.Label at cfg.Wire.Score on the host, which is
// never decisive, so it counts as one family and an alert still needs others
// to converge. When the host is known (the event's host_id, or the host of
// the app's ended stream), the broadcast also becomes a stream of that host,
// so its hours count in the schedule family like any other.

// Bounds of what the engine remembers of the app's ended streams.
const (
	wireEndedMax = 100_000
	wireEndedAge = 24 * time.Hour
)

// wireState is the engine's memory for stream.wire: the app's recently ended
// streams (whose host a later wire event names), and the streams already
// reported as hidden (one signal each). It is not in checkpoints: after a
// restart a wire event for a stream the app ended before it is attributed
// only by its own host_id, and a hidden stream may be reported once more.
type wireState struct {
	ended    map[string]endedStream
	reported map[string]time.Time
}

type endedStream struct {
	host string
	at   time.Time
}

// noteAppEnd remembers a stream's end (the app's stream.end, or 15 minutes
// without an event), bounded in count and age.
func (e *Engine) noteAppEnd(s *streamState) {
	w := &e.wire
	if w.ended == nil {
		w.ended = map[string]endedStream{}
	}
	if len(w.ended) >= wireEndedMax {
		for id, x := range w.ended {
			if e.now.Sub(x.at) > wireEndedAge || len(w.ended) >= wireEndedMax {
				delete(w.ended, id)
			}
		}
	}
	w.ended[s.id] = endedStream{host: s.host.id, at: s.last}
}

func (e *Engine) streamWire(ev *event.Event, at time.Time) {
	if s := e.streams[ev.StreamID]; s != nil {
		s.last = at
		if at.Sub(s.host.lastEval) >= e.cfg.EvalInterval {
			e.foldLive(s)
			e.markDirty(s.host)
		}
		return
	}
	if ev.Phase == event.WireEnded {
		return // a broadcast seen ending that the app had ended or never had
	}
	hostID := ev.HostID
	ended, afterEnd := e.wire.ended[ev.StreamID]
	if hostID == "" && afterEnd {
		hostID = ended.host
	}
	var why string
	if afterEnd {
		why = fmt.Sprintf("Stream %s was live on the wire%s %s after the app ended it at %s.",
			ev.StreamID, wireFigures(ev.Wire), at.Sub(ended.at).Round(time.Second), ended.at.UTC().Format(time.RFC3339))
	} else {
		why = fmt.Sprintf("Stream %s was live on the wire%s without the app ever starting it.", ev.StreamID, wireFigures(ev.Wire))
	}
	if hostID != "" {
		e.streamStart(&event.Event{Type: event.TypeStreamStart, StreamID: ev.StreamID, HostID: hostID, Node: ev.Node}, at)
	}
	if e.wire.reported == nil {
		e.wire.reported = map[string]time.Time{}
	}
	if _, done := e.wire.reported[ev.StreamID]; done {
		return
	}
	if len(e.wire.reported) >= wireEndedMax {
		for id, t := range e.wire.reported {
			if e.now.Sub(t) > wireEndedAge {
				delete(e.wire.reported, id)
			}
		}
		if len(e.wire.reported) >= wireEndedMax {
			return // bounded: past it a hidden stream is still a stream, unreported
		}
	}
	e.wire.reported[ev.StreamID] = at
	e.stats.SignalsRaised++
	if e.OnSignal != nil {
		ref := EntityRef{KindStream, ev.StreamID}
		if hostID != "" {
			ref = EntityRef{KindHost, hostID}
		}
		evidence := map[string]any{"stream": ev.StreamID, "after_app_end": afterEnd}
		if ev.Network != "" {
			evidence["network"] = ev.Network
		}
		if w := ev.Wire; w != nil {
			evidence["width"], evidence["height"], evidence["fps"] = w.Width, w.Height, w.FPS
			evidence["video_bitrate_bps"], evidence["audio"], evidence["silent"] = w.VideoBitrateBps, w.Audio, w.Silent
		}
		e.OnSignal(Signal{At: at, Detector: "wire", Entity: ref, Score: e.cfg.Wire.Score, Summary: why, Evidence: evidence})
	}
	if hostID != "" {
		e.extSignal(&event.Event{Type: event.TypeSignal, StreamID: ev.StreamID, HostID: hostID,
			Source: "ronda-media", Label: e.cfg.Wire.Label, Score: e.cfg.Wire.Score}, at)
	}
}

// wireFigures is " (1280x720, 30 fps, 2.0 Mbit/s, silent)" or "".
func wireFigures(w *event.WireFacts) string {
	if w == nil || (w.Width == 0 && w.VideoBitrateBps == 0 && !w.Audio) {
		return ""
	}
	s := " ("
	if w.Width > 0 {
		s += fmt.Sprintf("%dx%d, ", w.Width, w.Height)
	}
	if w.FPS > 0 {
		s += fmt.Sprintf("%.0f fps, ", w.FPS)
	}
	if w.VideoBitrateBps > 0 {
		s += fmt.Sprintf("%.1f Mbit/s, ", float64(w.VideoBitrateBps)/1e6)
	}
	switch {
	case w.Audio && w.Silent:
		s += "silent audio, "
	case w.Audio:
		s += "sound, "
	}
	return s[:len(s)-2] + ")"
}

// WireConfig: a broadcast the media tap sees live on the wire (stream.wire)
// that the app never started, or that goes on after the app's stream.end, is
// a broadcast hidden from the platform's own records. It enters as an
// external signal of Label at Score (non-decisive: it counts in the signals
// family, which needs other families to converge before an alert).
type WireConfig struct {
	// Label of the signal. Default wire_unannounced; it must not be one of
	// signals.decisive_labels.
	Label string `yaml:"label"`
	// Score of the signal. Default 0.8: signals.min_score, so it counts as
	// one family, no more.
	Score float64 `yaml:"score"`
}

func defaultWireConfig() WireConfig { return WireConfig{Label: "wire_unannounced", Score: 0.8} }

func (c WireConfig) validate(sig SignalConfig, bad func(field, why string)) {
	if c.Label == "" || c.Score <= 0 || c.Score > 1 {
		bad("wire", "label must be set and score in (0,1]")
	}
	for _, l := range sig.DecisiveLabels {
		if strings.EqualFold(l, c.Label) {
			bad("wire.label", "must not be a decisive label: a broadcast hidden from the app is evidence, not proof")
		}
	}
}
