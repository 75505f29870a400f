package metricsreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterReuses(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "ronda_test_total", Help: "A test counter."}
	a, err := Register(reg, prometheus.NewCounterVec(opts, []string{"k"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Register(reg, prometheus.NewCounterVec(opts, []string{"k"}))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("second registration did not return the first collector")
	}
	b.WithLabelValues("x").Inc()
	if got := testutil.ToFloat64(a.WithLabelValues("x")); got != 1 {
		t.Fatalf("shared counter = %v, want 1", got)
	}
}

func TestRegisterClash(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_clash", Help: "h"})); err != nil {
		t.Fatal(err)
	}
	// Same name, other labels: not the same metric, so an error.
	if _, err := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_clash", Help: "h"}, []string{"k"})); err == nil {
		t.Fatal("clashing registration: no error")
	}
	// Same descriptor, other Go type: the existing one cannot be returned.
	if _, err := Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_clash", Help: "h"})); err == nil {
		t.Fatal("registration over a collector of another type: no error")
	}
}
