package hub

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
)

// metrics of the hub. No label names an alert, a moderator or an address.
type metrics struct {
	sockets prometheus.Gauge
	sent    prometheus.Counter
	slow    prometheus.Counter
	auth    *prometheus.CounterVec
	actions *prometheus.CounterVec
	reloads *prometheus.CounterVec
	restore *prometheus.CounterVec
	// oldest is ronda_hub_oldest_unclaimed_seconds, one gauge per
	// severity, read under the hub lock at each scrape.
	oldest []prometheus.Collector
}

// newMetrics builds the hub's metrics; oldest gives the age in seconds of the
// oldest open, unclaimed alert of a severity (0 when there is none).
func newMetrics(reg prometheus.Registerer, oldest func(analyzer.Severity) float64) (*metrics, error) {
	m := &metrics{
		sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_hub_sockets", Help: "Moderator sockets connected."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_hub_messages_sent_total", Help: "Messages written to moderator sockets."}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_hub_slow_clients_total", Help: "Sockets cut off because their send queue was full."}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_hub_auth_failures_total",
			Help: "Refused connections by reason: missing_token, bad_token, origin, rate_limited, role (a valid token whose role may not use an API beside the hub)."}, []string{"reason"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_hub_actions_total",
			Help: "Moderator actions by action and result (ok or refused)."}, []string{"action", "result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_hub_token_reloads_total",
			Help: "SetTokens calls by result: ok, or refused (the list did not validate; nothing changed)."}, []string{"result"}),
		restore: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_hub_restores_total",
			Help: "Restore calls by result: exact (a final state: consoles resume message by message), " +
				"resync (consoles get a snapshot) or refused."}, []string{"result"}),
	}
	for s := analyzer.SeverityLow; s <= analyzer.SeverityCritical; s++ {
		m.oldest = append(m.oldest, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ronda_hub_oldest_unclaimed_seconds",
			Help: "Age by the hub's clock of the oldest open alert no moderator claims, acknowledged or escalated, " +
				"by severity; 0 when there is none. An alert restored at a hub start ages from the start.",
			ConstLabels: prometheus.Labels{"severity": s.String()},
		}, func() float64 { return oldest(s) }))
	}
	for _, r := range []string{"ok", "refused"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"exact", "resync", "refused"} {
		m.restore.WithLabelValues(r)
	}
	for _, r := range []string{failMissing, failBad, failOrigin, failRateLimited} {
		m.auth.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var done []prometheus.Collector
	all := append([]prometheus.Collector{m.sockets, m.sent, m.slow, m.auth, m.actions, m.reloads, m.restore}, m.oldest...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, err
		}
		done = append(done, c)
	}
	return m, nil
}
