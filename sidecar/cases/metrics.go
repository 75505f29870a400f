package cases

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	opened      prometheus.Counter
	actions     *prometheus.CounterVec
	submissions *prometheus.CounterVec
	breaker     *prometheus.GaugeVec
	requests    *prometheus.CounterVec
	links       *prometheus.CounterVec
}

// newMetrics registers the cases' metrics on reg (nil: kept unregistered).
// Labels name routes and results, never a case, alert or person.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		opened: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_cases_opened_total",
			Help: "Cases opened by an escalation (a repeated escalation of one alert opens none)."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_cases_actions_total",
			Help: "Actions on cases through the API, by action (note, approve)."}, []string{"action"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_cases_submissions_total",
			Help: "Attempts to send a case version down a report route, by route name and result (delivered, already, failed, rejected, breaker_open)."},
			[]string{"route", "result"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ronda_cases_route_breaker_state",
			Help: "State of each report route's circuit breaker: 0 closed, 1 half-open, 2 open."}, []string{"route"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_cases_requests_total",
			Help: "Requests to /v1/cases/ by outcome (ok, bad_request, forbidden, not_found, conflict, too_many, unavailable)."}, []string{"outcome"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_cases_print_links_total",
			Help: "One-time links to a case's printable page, by result: issued, used, refused (unknown, used, expired or another case's), user_full (the asker has 16 open: 429) or full (over the bound of open links in all: 503)."},
			[]string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.opened, m.actions, m.submissions, m.breaker, m.requests, m.links)
	}
	return m
}
