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

	wsHandshakes  *prometheus.CounterVec // result: ok or the refusal reason
	wsBatches     *prometheus.CounterVec // outcome
	wsRefusals    *prometheus.CounterVec // reason of busy and refused batches
	wsDisconnects *prometheus.CounterVec // reason
	wsResumes     prometheus.Counter
	wsEvicted     prometheus.Counter
	wsBytes       prometheus.Counter

	keys       prometheus.Gauge
	keyReloads prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, h *Handler) (*metrics, error) {
	replay, ws := h.replay, h.ws
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_requests_total",
			Help: "Requests to POST /v1/events by HTTP status code.",
		}, []string{"code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_refused_total",
			Help: "Requests refused as a whole, by reason (no_signature, bad_timestamp, expired, bad_signature (an unknown key id included, so that ids cannot be probed), replayed, body_too_large, decoded_too_large, too_many_lines, over_burst, rate_limited, request_rate_limited, in_flight, memory_full, read_timeout, too_large_to_decode, replay_memory_full, sink_busy, sink_error, bad_gzip, bad_encoding, method, read, canceled, closed).",
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
		wsHandshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_ws_handshakes_total",
			Help: "Websocket handshakes by result: ok, or the refusal reason (the reasons of ronda_intake_refused_total, request_rate_limited among them, and not_websocket, bad_param, too_many_connections, closed, upgrade_failed).",
		}, []string{"result"}),
		wsBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_ws_batches_total",
			Help: "Websocket batch messages by outcome: acked (taken), already (seq already taken: acked again, not processed), busy (nothing taken, to be resent), refused (can never pass, counted as taken), protocol_error (the socket was closed).",
		}, []string{"outcome"}),
		wsRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_ws_batch_refusals_total",
			Help: "Websocket batches answered busy or refused, by reason (busy: sink_busy, sink_error, rate_limited, in_flight, memory_full, after_busy; refused: too_many_lines, over_burst, body_too_large, decoded_too_large, too_large_to_decode, bad_encoding).",
		}, []string{"reason"}),
		wsDisconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_intake_ws_disconnects_total",
			Help: "Websocket connections ended, by reason: client_closed, read_error (including silence past the read timeout), write_error, protocol_error, too_large (a message over the read limit, closed with 1009), superseded (a newer socket took the session), key_revoked (SetKeys removed its key), shutdown.",
		}, []string{"reason"}),
		wsResumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_ws_resumes_total",
			Help: "Websocket handshakes that resumed a session the server remembered.",
		}),
		wsEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_ws_sessions_evicted_total",
			Help: "Websocket sessions forgotten because more than WSSessions were remembered; their senders start a new session.",
		}),
		wsBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_ws_message_bytes_total",
			Help: "Bytes of websocket batch messages read, once inflated.",
		}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_intake_keys",
			Help: "Intake keys live.",
		}),
		keyReloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_intake_key_reloads_total",
			Help: "Successful replacements of the intake keys (SetKeys).",
		}),
	}
	memUsed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_memory_bytes",
		Help: "Bytes that requests hold now (bodies being read, decoded batches, answers), by the handler's accounting; never above ronda_intake_memory_limit_bytes.",
	}, func() float64 { used, _ := h.mem.stats(); return float64(used) })
	memLimit := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_memory_limit_bytes",
		Help: "The bound of ronda_intake_memory_bytes (MaxMemoryBytes); past it requests get 503 (memory_full).",
	}, func() float64 { return float64(h.opts.MaxMemoryBytes) })
	replayLimit := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_replay_signatures_per_key_limit",
		Help: "The most signatures one key may have remembered at once (its share of ReplayMemory).",
	}, func() float64 { return float64(replay.keyShare()) })
	signatures := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_replay_signatures",
		Help: "Signatures remembered for replay detection.",
	}, func() float64 { return float64(replay.len()) })
	conns := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_ws_connections",
		Help: "Websocket connections open.",
	}, func() float64 { return float64(ws.numConns()) })
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_intake_ws_sessions",
		Help: "Websocket sessions remembered (last batch taken per key, sender and session).",
	}, func() float64 { return float64(ws.numSessions()) })
	if reg == nil {
		return m, nil
	}
	all := []prometheus.Collector{m.requests, m.refused, m.events, m.bodyBytes, m.seconds, m.undoDropped, signatures,
		m.wsHandshakes, m.wsBatches, m.wsRefusals, m.wsDisconnects, m.wsResumes, m.wsEvicted, m.wsBytes, conns, sessions,
		m.keys, m.keyReloads, memUsed, memLimit, replayLimit}
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
