package janus

import "github.com/prometheus/client_golang/prometheus"

// metrics of the client; no label names a stream, host or room.
type metrics struct {
	subscriptions prometheus.Gauge
	started       prometheus.Counter
	ended         *prometheus.CounterVec // reason
	skipped       *prometheus.CounterVec // reason
	sessions      prometheus.Counter
	sessionLosses prometheus.Counter
	decodeErrors  prometheus.Counter
}

// Reasons a subscription ends.
const (
	endLeft        = "left"         // the publisher left the room
	endHangup      = "hangup"       // Janus hung the PeerConnection up
	endFailed      = "failed"       // negotiation or ICE/DTLS failed
	endSessionLost = "session_lost" // Janus restarted or the session timed out
	endStopped     = "stopped"      // Ronda is shutting down
)

// Reasons a publisher is not subscribed.
const (
	skipLimit     = "limit"     // MaxSubscriptions reached
	skipUnmatched = "unmatched" // the display does not match Mapping.DisplayPattern
	skipPrepare   = "prepare"   // the prepare callback refused the feed
	skipBackoff   = "backoff"   // refused by prepare before; not joined again yet
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_media_janus_subscriptions",
			Help: "Janus VideoRoom publishers subscribed now (one PeerConnection each).",
		}),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_media_janus_subscriptions_started_total",
			Help: "Subscriptions to Janus publishers whose answer was sent.",
		}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_media_janus_subscriptions_ended_total",
			Help: "Subscriptions ended, by reason: left, hangup, failed, session_lost, stopped.",
		}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_media_janus_feeds_skipped_total",
			Help: "Publishers seen but not subscribed, per poll, by reason: limit, unmatched, prepare (refused by the tap after a join), backoff (a refused feed waiting before it is joined again).",
		}, []string{"reason"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_media_janus_sessions_total",
			Help: "Janus sessions created (one at start, one more after each loss).",
		}),
		sessionLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_media_janus_session_losses_total",
			Help: "Janus sessions lost: Janus unreachable, restarted or answering errors.",
		}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_media_janus_decode_errors_total",
			Help: "Answers of Janus that could not be decoded.",
		}),
	}
	for _, r := range []string{endLeft, endHangup, endFailed, endSessionLost, endStopped} {
		m.ended.WithLabelValues(r)
	}
	for _, r := range []string{skipLimit, skipUnmatched, skipPrepare, skipBackoff} {
		m.skipped.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.subscriptions, m.started, m.ended, m.skipped, m.sessions, m.sessionLosses, m.decodeErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
