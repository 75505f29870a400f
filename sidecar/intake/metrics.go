package intake

import "github.com/prometheus/client_golang/prometheus"

// metrics are labelled by status or reason only: never by sender, key or
// stream, whose numbers are unbounded.
type metrics struct {
	requests    *prometheus.CounterVec // code
	refused     *prometheus.CounterVec // reason
	events      *prometheus.CounterVec // status: accepted, duplicate, rejected, unknown
	bodyBytes   prometheus.Counter
	seconds     prometheus.Histogram
	undoDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, replay *replayGuard) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_requests_total",
			Help: "Requests to POST /v1/events by HTTP status code.",
		}, []string{"code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_refused_total",
			Help: "Requests refused as a whole, by reason (no_signature, unknown_key, bad_timestamp, expired, bad_signature, replayed, body_too_large, decoded_too_large, too_many_lines, over_burst, rate_limited, in_flight, replay_memory_full, sink_busy, sink_error, bad_gzip, bad_encoding, method, read, canceled).",
		}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_events_total",
			Help: "Lines of answered requests by status: accepted (into the pipeline), duplicate, rejected, unknown (type).",
		}, []string{"status"}),
		bodyBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_body_bytes_total",
			Help: "Bytes of request bodies read, as sent.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ronda_intake_request_seconds",
			Help:    "Time to answer an accepted request, sink included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		undoDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_dedup_undo_dropped_total",
			Help: "Ids of batches the pipeline refused whose retry will be taken for duplicates, because the bounded memory of such ids was full.",
		}),
	}
	signatures := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_replay_signatures",
		Help: "Signatures remembered for replay detection.",
	}, func() float64 { return float64(replay.len()) })
	if reg == nil {
		return m, nil
	}
	all := []prometheus.Collector{m.requests, m.refused, m.events, m.bodyBytes, m.seconds, m.undoDropped, signatures}
	for i, c := range all {
		if err := reg.Register(c); err != nil {
			for _, done := range all[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}
