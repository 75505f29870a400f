package serve

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counter(t testing.TB, c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// eventsWS: TEMPORARY until the websocket intake lands.
type eventsWS struct{ addr string }

func dialEventsWS(t testing.TB, addr, sender string) *eventsWS { return &eventsWS{addr} }

func (w *eventsWS) sendOK(t testing.TB, body []byte) int { return postOK(t, w.addr, body).Accepted }
