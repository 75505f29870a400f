package forward

import "github.com/prometheus/client_golang/prometheus"

// fwdMetrics carry no per-sender label: one forwarder per process is the
// rule, and several would register twice.
type fwdMetrics struct {
	events        *prometheus.CounterVec // status
	batches       *prometheus.CounterVec // outcome
	connects      *prometheus.CounterVec // result
	sessionResets prometheus.Counter
}

func newFwdMetrics(reg prometheus.Registerer, f *Forwarder) (*fwdMetrics, error) {
	m := &fwdMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_events_total",
			Help: "Forwarder events by status: added, dropped (buffer full), spooled, accepted, duplicate, rejected, unknown (as the receiver answered), refused (in batches the receiver refused), undelivered (left at Close without a spool).",
		}, []string{"status"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_batches_total",
			Help: "Forwarder batch messages by outcome: sent, resent (also counted in sent), acked, busy, refused.",
		}, []string{"outcome"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_connects_total",
			Help: "Forwarder connection attempts by result: ok (hello received) or failed.",
		}, []string{"result"}),
		sessionResets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_forwarder_session_resets_total",
			Help: "Sessions the receiver had forgotten (restart, eviction): a new one was started and the unacknowledged batches renumbered.",
		}),
	}
	buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_forwarder_buffered_events",
		Help: "Events held in memory: waiting, in flight or unacknowledged.",
	}, func() float64 { return float64(f.Stats().Buffered) })
	spooled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_forwarder_spool_records",
		Help: "Batches waiting in the spool.",
	}, func() float64 { return float64(f.Stats().SpoolRecords) })
	if reg == nil {
		return m, nil
	}
	all := []prometheus.Collector{m.events, m.batches, m.connects, m.sessionResets, buffered, spooled}
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
