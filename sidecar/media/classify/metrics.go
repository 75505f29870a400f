package classify

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	frames     *prometheus.CounterVec
	requests   *prometheus.CounterVec
	latency    prometheus.Histogram
	signals    prometheus.Counter
	sinkErrors prometheus.Counter
	breaker    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_classify_frames_total",
			Help: "Frames offered to the classifier by result: sent, or why not (budget, budget_table_full, busy, breaker_open, unsupported, encode_error, stopped)."}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_classify_requests_total",
			Help: "Classifier requests by result (ok, error, timeout, bad_answer, breaker_open)."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_media_classify_request_seconds",
			Help: "Time of one classifier request, answer included.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 10)}),
		signals: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_media_classify_signals_total",
			Help: "Signal events from classifier answers taken by the pipeline."}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_media_classify_sink_refused_total",
			Help: "Classifier answers whose signals the pipeline refused."}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_media_classify_breaker_state",
			Help: "The classifier circuit breaker: 0 closed, 1 half-open, 2 open."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.frames, m.requests, m.latency, m.signals, m.sinkErrors, m.breaker} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("classifier: one classifier per registry: %w", err)
			}
			return nil, fmt.Errorf("classifier: register metrics: %w", err)
		}
	}
	return m, nil
}
