package wal

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	bytes        prometheus.Gauge
	segments     prometheus.Gauge
	appendSec    prometheus.Histogram
	fsyncSec     prometheus.Histogram
	fsyncs       prometheus.Counter
	damaged      *prometheus.CounterVec
	damagedBytes prometheus.Counter
	full         prometheus.Counter
	writeErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_wal_bytes",
			Help: "Bytes of the intake log on disk (what the last checkpoint does not cover, roughly)."}),
		segments: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_wal_segments",
			Help: "Segment files of the intake log."}),
		appendSec: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_wal_append_seconds",
			Help: "Time to write one batch to the intake log (without the fsync).", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}),
		fsyncSec: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_wal_fsync_seconds",
			Help: "Time of one intake log fsync (shared by the batches it covers).", Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)}),
		fsyncs: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_wal_fsyncs_total",
			Help: "Intake log fsyncs; with the batches appended, how many batches share one."}),
		damaged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_wal_damaged_total",
			Help: "Segments cut at open: torn (a write interrupted by a crash, never acknowledged) or corrupt (a damaged record; the rest of its segment moved to damaged/)."},
			[]string{"kind"}),
		damagedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_wal_damaged_bytes_total",
			Help: "Bytes cut from the intake log at open."}),
		full: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_wal_full_total",
			Help: "Appends refused because the intake log reached its bound (the sender was answered busy)."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_wal_write_errors_total",
			Help: "Appends whose write failed (disk full, I/O error) and were cut back: the sender was answered busy."}),
	}
	for _, k := range []string{"torn", "corrupt"} {
		m.damaged.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.bytes, m.segments, m.appendSec, m.fsyncSec, m.fsyncs, m.damaged, m.damagedBytes, m.full, m.writeErrors)
	}
	return m
}
