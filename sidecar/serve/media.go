package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/media"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/janus"
	"github.com/ronda-watch/ronda/sidecar/media/keyframes"
	"github.com/ronda-watch/ronda/sidecar/media/whep"
)

// MediaConfig turns on the tap on the broadcast itself (sidecar/media): the
// WHIP endpoint, where publishers send their WebRTC broadcast to Ronda, and
// the facts read from the wire (resolution, frame rate, bitrate, key frame
// interval, audio silence, loss, jitter, network /24), sent to the analyzer
// as stream.wire events. No picture or sound is ever written anywhere.
// Changes need a restart.
type MediaConfig struct {
	// Enabled turns the tap on: WHIP at /v1/whip/{stream_id} (with
	// whip_tokens), and the broadcasts fetched from Janus and by WHEP.
	// Default false.
	Enabled bool `yaml:"enabled"`
	// MaxSessions bounds the broadcasts read at once; one more offer gets
	// 503 with Retry-After. Default 200.
	MaxSessions int `yaml:"max_sessions"`
	// MaxTracks bounds the tracks read per broadcast (one video and one
	// audio normally); more are not read, and counted. Default 4.
	MaxTracks int `yaml:"max_tracks"`
	// ReadBuffer is the bytes each track's packets are read into: at least
	// the path MTU. Default 1500.
	ReadBuffer int `yaml:"read_buffer"`
	// ReportEvery is how often a live broadcast's wire facts are sent to the
	// analyzer as a stream.wire event (it keeps the stream alive like a
	// heartbeat); one is also sent at its start and end. Default 60s.
	ReportEvery time.Duration `yaml:"report_every"`
	// KeyframeEvery is the least time between two key frames handed, in
	// memory, to the key frame consumers (hashing, classifiers) of one
	// stream; when one is due, the publisher is asked for it (RTCP PLI, at
	// most once per keyframe_every per track, never twice within 1s): VP8
	// always, H.264 only when classifier.accepts_h264 is set, as Ronda
	// decodes no H.264. Default 10s.
	KeyframeEvery time.Duration `yaml:"keyframe_every"`
	// MaxKeyframeBytes bounds one key frame assembled; a larger one is
	// dropped and counted. Default 4 MiB.
	MaxKeyframeBytes int `yaml:"max_keyframe_bytes"`
	// WHIPTokens are the publishers' bearer tokens (RFC 9725 section 4.5),
	// each stored as its SHA-256 like the moderators' tokens (printf %s
	// "$TOKEN" | sha256sum), with a name for the logs. Without any,
	// WHIP is not served, and janus or whep must bring the broadcasts.
	// Publishers are not senders: they never hold an intake key.
	WHIPTokens []WHIPToken `yaml:"whip_tokens"`
	// MaxOfferBytes bounds a WHIP offer (413 past it). Default 64 KiB.
	MaxOfferBytes int64 `yaml:"max_offer_bytes"`
	// OffersPerSecond and OfferBurst bound the WHIP offers taken, all
	// publishers together (each costs a peer connection); past them 429
	// with Retry-After. Defaults 10 and 20.
	OffersPerSecond float64 `yaml:"offers_per_second"`
	OfferBurst      int     `yaml:"offer_burst"`
	// UDPPortMin and UDPPortMax bound the UDP ports of the media (one per
	// broadcast); both 0: any port the system gives.
	UDPPortMin uint16 `yaml:"udp_port_min"`
	UDPPortMax uint16 `yaml:"udp_port_max"`
	// PublicIPs are the addresses publishers reach this host at when it is
	// behind a 1:1 NAT, announced as host candidates. Empty: the
	// interfaces' own addresses.
	PublicIPs []string `yaml:"public_ips"`
	// LoopbackOnly gathers candidates on loopback interfaces only (tests,
	// and a publisher on the same host). Default false.
	LoopbackOnly bool `yaml:"loopback_only"`
	// HashLists are PDQ hash lists (HMA/StopNCII hex) the sampled VP8 key
	// frames are matched against, each reloaded when its file changes; a
	// match is a `signal` event (source pdq, the list's label). Empty: no
	// key frame is decoded.
	HashLists []hashlist.Config `yaml:"hash_lists"`
	// Keyframes bounds the sampler between the tap and the hash lists and
	// the classifier (min_interval, queue_size, workers, min_quality, ...);
	// used only with hash_lists or a classifier.
	Keyframes keyframes.Config `yaml:"keyframes"`
	// Classifier sends the sampled key frames (VP8 decoded, then JPEG
	// encoded in memory) to an external HTTP classifier (age estimate,
	// nudity); each label of its answers is a `signal` event. Off without
	// a url.
	Classifier ClassifierConfig `yaml:"classifier"`
	// Janus subscribes to the publishers of a Janus VideoRoom through its
	// HTTP API: each publisher is a broadcast read like a WHIP one. Off
	// without a url.
	Janus janus.Config `yaml:"janus"`
	// WHEP pulls a copy of each listed stream from a media server's WHEP
	// endpoint (MediaMTX, SRS), read like a WHIP broadcast. Empty: none.
	WHEP []whep.Config `yaml:"whep"`
}

// WHIPToken is one publisher token: its SHA-256 and a name.
type WHIPToken struct {
	// Name identifies the token in logs (never the token).
	Name string `yaml:"name"`
	// SHA256 is the lower- or upper-case hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
}

func (c MediaConfig) validate() []error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("media.%s: %s", field, why)) }
	if !c.Enabled {
		// A slice, not a map: check-config prints them in the same order.
		for _, k := range []struct {
			key string
			set bool
		}{{"hash_lists", len(c.HashLists) > 0}, {"classifier", c.Classifier.URL != ""}, {"janus", c.Janus.URL != ""}, {"whep", len(c.WHEP) > 0}} {
			if k.set {
				bad(k.key, "set, but media.enabled is false: nothing would read it")
			}
		}
		return errs
	}
	if len(c.WHIPTokens) == 0 && c.Janus.URL == "" && len(c.WHEP) == 0 {
		bad("whip_tokens", "at least one publisher token is needed when media is enabled (unless media.janus or media.whep brings the broadcasts)")
	}
	for i, t := range c.WHIPTokens {
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
			bad(fmt.Sprintf("whip_tokens[%d].sha256", i), "not a hex SHA-256")
		}
		if t.Name == "" {
			bad(fmt.Sprintf("whip_tokens[%d].name", i), "empty")
		}
	}
	if c.MaxSessions < 0 || c.MaxTracks < 0 || c.ReadBuffer < 0 || c.ReportEvery < 0 || c.KeyframeEvery < 0 ||
		c.MaxKeyframeBytes < 0 || c.MaxOfferBytes < 0 || c.OffersPerSecond < 0 || c.OfferBurst < 0 {
		bad("limits", "must not be negative")
	}
	if c.ReadBuffer != 0 && c.ReadBuffer < 576 {
		bad("read_buffer", "must be at least 576 bytes (the smallest IPv4 MTU)")
	}
	if c.ReportEvery != 0 && c.ReportEvery < time.Second {
		bad("report_every", "must be at least 1s")
	}
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) || c.UDPPortMin > c.UDPPortMax {
		bad("udp_port_min", "set both udp_port_min and udp_port_max, min <= max, or neither")
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad("public_ips", fmt.Sprintf("%q is not an address", ip))
		}
	}
	errs = append(errs, c.validateKeyframes()...)
	errs = append(errs, c.Classifier.validate()...)
	return append(errs, c.validateSources()...)
}

// mediaTap is the tap, its WHIP endpoint and the sources it fetches in a
// running service.
type mediaTap struct {
	tap     *media.Tap
	whip    *media.WHIP   // nil without whip_tokens
	sources *mediaSources // Janus and WHEP (mediasources.go)
	keys    *keyframeWire // the sampler, hash lists and classifier (mediawire.go)
}

// openMedia builds the tap and mounts WHIP when media is enabled; the
// stream.wire events go to sink.
func (s *Service) openMedia(mux *http.ServeMux, sink intake.Sink) error {
	c := s.cfg.Media
	if !c.Enabled {
		return nil
	}
	tokens := map[[sha256.Size]byte]string{}
	for _, t := range c.WHIPTokens {
		b, err := hex.DecodeString(strings.ToLower(t.SHA256))
		if err != nil || len(b) != sha256.Size {
			return errors.New("media.whip_tokens: not a hex SHA-256")
		}
		tokens[[sha256.Size]byte(b)] = t.Name
	}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_wire_events_total",
		Help: "stream.wire events made from the media tap's reports, by result (sent; dropped when the pipeline was busy)."}, []string{"result"})
	sent.WithLabelValues("sent")
	sent.WithLabelValues("dropped")
	if err := s.reg.Register(sent); err != nil {
		return err
	}
	keys, err := s.openKeyframes(sink)
	if err != nil {
		return err
	}
	onKey := s.opts.OnKeyframe
	var wantKeys func(codec string) bool // nil: every codec
	if keys != nil && s.opts.OnKeyframe == nil {
		// Only the sampler takes key frames: a publisher is asked for those
		// it can use (H.264 only for a classifier that takes it).
		wantKeys = keys.sampler.Wants
	}
	if keys != nil {
		hook := onKey
		onKey = func(streamID, codec string, frame []byte, at time.Time) {
			if hook != nil {
				hook(streamID, codec, frame, at)
			}
			// The tap names codecs by lower-case MIME subtype (vp8,
			// h264), the sampler by upper-case (VP8, H264).
			keys.sampler.OnKeyframe(streamID, strings.ToUpper(codec), frame, at)
		}
	}
	tap, err := media.New(media.Options{OnReport: s.sendWire(sink, sent), Config: media.Config{MaxSessions: c.MaxSessions, MaxTracks: c.MaxTracks,
		ReadBuffer: c.ReadBuffer, ReportEvery: c.ReportEvery, KeyframeEvery: c.KeyframeEvery, MaxKeyframeBytes: c.MaxKeyframeBytes},
		OnKeyframe: onKey, WantsKeyframes: wantKeys, Now: s.opts.Now, Registerer: s.reg, Logger: s.log.With("component", "media")})
	if err != nil {
		keys.close()
		return err
	}
	var se webrtc.SettingEngine
	if c.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(c.UDPPortMin, c.UDPPortMax); err != nil {
			tap.Close()
			keys.close()
			return fmt.Errorf("media ports: %w", err)
		}
	}
	if len(c.PublicIPs) > 0 {
		se.SetNAT1To1IPs(c.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if c.LoopbackOnly {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetIncludeLoopbackCandidate(true)
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A publisher that vanishes is seen gone in 5 s, its session ended in
	// 15 s (pion's defaults: 5 s and 25 s).
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	api, err := media.NewAPI(se)
	if err != nil {
		tap.Close()
		keys.close()
		return err
	}
	sources, err := s.openSources(tap, api)
	if err != nil {
		tap.Close()
		keys.close()
		return err
	}
	var whip *media.WHIP
	if len(tokens) > 0 {
		whip, err = media.NewWHIP(media.WHIPOptions{Tap: tap, API: api, MaxOfferBytes: c.MaxOfferBytes,
			OffersPerSecond: c.OffersPerSecond, OfferBurst: c.OfferBurst, Registerer: s.reg, Logger: s.log.With("component", "whip"),
			Authorize: func(token string) (string, bool) {
				name, ok := tokens[sha256.Sum256([]byte(token))]
				return name, ok
			}})
		if err != nil {
			tap.Close()
			keys.close()
			return err
		}
		mux.Handle(media.WHIPPath, whip)
	}
	s.media = &mediaTap{tap: tap, whip: whip, sources: sources, keys: keys}
	return nil
}

// start runs the sources Ronda fetches (Janus, WHEP). Safe on nil.
func (m *mediaTap) start(s *Service) {
	if m != nil {
		m.sources.start(s)
	}
}

// close ends every broadcast read (each sends its ended event) before the
// pipeline drains: the fetched ones first (their servers are told), then
// WHIP's, then the tap, then the key frame consumers. Safe on nil.
func (m *mediaTap) close() {
	if m == nil {
		return
	}
	m.sources.close()
	if m.whip != nil {
		m.whip.Close()
	}
	m.tap.Close()
	m.keys.close()
}

// wireEvent is a report of the tap as the stream.wire event the analyzer
// takes: the first video and the first audio track's figures, the loss of
// all, the largest jitter.
func wireEvent(r media.Report, node string) event.Event {
	ev := event.Event{Type: event.TypeStreamWire, TypeName: event.TypeStreamWire.String(),
		ID: "wire-" + r.Session + "-" + strconv.Itoa(r.Seq), At: r.At.UTC(), Node: node,
		StreamID: r.StreamID, HostID: r.HostID, Phase: r.State, Network: r.Network}
	w := &event.WireFacts{Source: r.Kind, Start: r.Start.UTC()}
	if !r.End.IsZero() {
		w.End = r.End.UTC()
	}
	var video, audio bool
	for _, t := range r.Tracks {
		w.Lost += t.Lost
		w.JitterMs = max(w.JitterMs, t.JitterMs)
		switch {
		case t.Kind == "video" && !video:
			video = true
			w.VideoCodec, w.Width, w.Height, w.FPS = t.Codec, t.Width, t.Height, t.FPS
			w.VideoBitrateBps, w.KeyframeIntervalS = t.BitrateBps, t.KeyframeIntervalS
		case t.Kind == "audio" && !audio:
			audio = true
			w.AudioCodec, w.AudioBitrateBps = t.Codec, t.BitrateBps
			w.Audio = t.Packets > 0
			w.Silent = t.Silent != nil && *t.Silent && t.Packets > 0
		}
	}
	ev.Wire = w
	return ev
}

// sendWire hands a report to the pipeline as a stream.wire event; a busy
// pipeline drops it (the next report follows within report_every), counted.
func (s *Service) sendWire(sink intake.Sink, sent *prometheus.CounterVec) func(media.Report) {
	return func(r media.Report) {
		ev := wireEvent(r, s.cfg.Node)
		if s.opts.OnWire != nil {
			s.opts.OnWire(ev)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sink(ctx, []event.Event{ev}); err != nil {
			sent.WithLabelValues("dropped").Inc()
			s.log.Warn("stream.wire event not taken", "err", err)
			return
		}
		sent.WithLabelValues("sent").Inc()
	}
}
