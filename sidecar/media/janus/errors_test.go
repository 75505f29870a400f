package janus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

// TestBadJanus: a server that answers garbage, oversized bodies or HTTP
// errors never gets a session made; each answer is a clear error, counted,
// retried with backoff, and Run still ends cleanly.
func TestBadJanus(t *testing.T) {
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	cases := []struct {
		name    string
		answer  func(w http.ResponseWriter)
		decodes bool // counted as undecodable
	}{
		{"garbage", func(w http.ResponseWriter) { fmt.Fprint(w, `{"janus":`) }, true},
		{"no kind", func(w http.ResponseWriter) { fmt.Fprint(w, `{"transaction":"x"}`) }, true},
		{"oversized", func(w http.ResponseWriter) { fmt.Fprint(w, `{"janus":"success","x":"`+strings.Repeat("a", 8192)+`"}`) }, false},
		{"http 500", func(w http.ResponseWriter) { http.Error(w, "boom", 500) }, false},
		{"success without id", func(w http.ResponseWriter) { fmt.Fprint(w, `{"janus":"success","data":{}}`) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				tc.answer(w)
			}))
			defer hs.Close()
			c, err := New(Config{URL: hs.URL + "/janus", BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxBodyBytes: 4096},
				func(*webrtc.PeerConnection, Feed) error { t.Error("prepare called"); return nil }, nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			waitFor(t, "three attempts", func() (bool, string) {
				n := metric(c.m.sessionLosses)()
				return n >= 3, fmt.Sprintf("attempts %v", n)
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := metric(c.m.sessions)(); got != 0 {
				t.Errorf("sessions = %v, want 0", got)
			}
			if got := metric(c.m.decodeErrors)(); (got > 0) != tc.decodes {
				t.Errorf("decode errors = %v, want counted: %v", got, tc.decodes)
			}
			c.hc.CloseIdleConnections()
		})
	}
}
