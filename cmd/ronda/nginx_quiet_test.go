package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
	"github.com/ronda-watch/ronda/sidecar/serve"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// fastClock is event time running at speed × wall time from the moment it
// is made: what the test gives `ronda serve` as its clock so that half an
// hour of a broadcast passes in a quarter of a minute, without a sleep.
type fastClock struct {
	mu    sync.Mutex
	base  time.Time // event time at wall
	wall  time.Time // with its monotonic reading
	speed float64
}

func newFastClock(speed float64) *fastClock {
	now := time.Now()
	return &fastClock{base: now.UTC().Truncate(time.Second), wall: now, speed: speed}
}

func (c *fastClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Duration(float64(time.Since(c.wall)) * c.speed))
}

// TestNginxRTMPQuietBroadcastIsOneSession is issue 12's "must show": ffmpeg
// publishes a test pattern to a real nginx-rtmp wired as
// deploy/nginx-rtmp/nginx.conf wires it (exec_publish and exec_publish_done
// running `ronda hook nginx-rtmp`, rtmp_stat polled for heartbeats); a real
// `ronda serve` (in process, its clock running at quietSpeed × wall time)
// records to a real ClickHouse. The broadcast has no gift and no chat for
// longer than the analyzer's stream_idle (15 minutes of event time): only
// the poller's heartbeats say it is alive. It must be recorded as ONE
// session from the hook's start to the hook's end, its length the publish's
// in event time within one poll interval, with the heartbeats of the whole
// broadcast. Without the heartbeats the idle rule would have ended it at
// its start (an idle stream ends at its last event) and the hook's end
// would have found nothing live.
func TestNginxRTMPQuietBroadcastIsOneSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx, ffmpeg, ClickHouse and ronda serve; skipped with -short")
	}
	nginxtest.Need(t)
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	const (
		quietSpeed   = 120.0            // event seconds per wall second
		publishFor   = 14               // wall seconds of ffmpeg: 28 minutes of event time
		pollWall     = time.Second      // pollers.nginx_rtmp.interval, on the wall clock
		stream       = "live/s-quiet"   // nginx-rtmp's stream id: app/name
		idle         = 15 * time.Minute // analyzer stream_idle (the default)
		pollInterval = time.Duration(quietSpeed) * pollWall
	)
	bin := ronda(t)
	ch := chtest.Start(t)
	dir := t.TempDir()
	port := chtest.FreePort(t)
	const secret = "rtmp-hook-secret-0123456789"
	secretFile := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hookURL := fmt.Sprintf("http://127.0.0.1:%d/hooks/nginx-rtmp", port)
	hook := func(call string) string {
		return fmt.Sprintf("  exec_%s %s hook nginx-rtmp --url %s --secret-file %s\n    call=%s app=$app name=$name addr=$addr args=$args;",
			call, bin, hookURL, secretFile, call)
	}
	in := nginxtest.Start(t, nginxtest.Options{RTMPConf: hook("publish") + "\n" + hook("publish_done"), Stat: true})

	// `ronda serve` in process, configured as serveConf configures the
	// binary (poller every second, resume on), its clock fast.
	b, err := os.ReadFile(serveConf(t, dir, port, ch.DSN(), "RONDA_TEST_RTMP", in.StatURL()))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RONDA_TEST_INTAKE": "intake-secret-0123456789abcdef", "RONDA_TEST_RTMP": secret}
	getenv := func(k string) string { return env[k] }
	cfg.ApplyEnv(getenv)
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	if cfg.Analyzer != "" {
		t.Fatalf("the test relies on the default stream_idle; analyzer config %q set", cfg.Analyzer)
	}
	clock := newFastClock(quietSpeed)
	var logs syncBuffer
	svc, err := serve.New(serve.Options{Config: cfg, Getenv: getenv, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("serve did not stop within 60s:\n%s", tail(logs.String(), 3000))
		}
	}
	t.Cleanup(stop)
	addr := svc.Addr()
	waitLong(t, 30*time.Second, "ronda serve ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, logs.String)

	// The broadcast: no gift, no chat, only video and the poller.
	// Its bounds as the ingest sees them: listed live in rtmp_stat (the
	// moment nginx-rtmp runs exec_publish, give or take the stat page's
	// 20 ms polling), and ffmpeg gone (exec_publish_done).
	p := nginxtest.Publish(t, in, "s-quiet", publishFor)
	p.UntilLive(t)
	began := clock.Now()
	p.Wait(t, "the quiet broadcast")
	ended := clock.Now()
	published := ended.Sub(began)
	if published <= idle+pollInterval {
		t.Fatalf("the publish lasted %v of event time, not past stream_idle %v: the test shows nothing", published, idle)
	}
	t.Logf("figure: ffmpeg published %ds of wall time = %v of event time at %.0fx; heartbeats every %v of event time",
		publishFor, published.Round(time.Second), quietSpeed, pollInterval)

	type sessionRow struct {
		start, end time.Time
		minutes    int
		heartbeats int
	}
	sessions := func() ([]sessionRow, error) {
		out, err := ch.Client("SELECT toUnixTimestamp(start), toUnixTimestamp(`end`), minutes, heartbeats FROM ronda.stream_sessions FINAL WHERE stream_id = '" + stream + "' ORDER BY start")
		if err != nil {
			return nil, err
		}
		var rows []sessionRow
		for line := range strings.Lines(out) {
			f := strings.Fields(line)
			if len(f) != 4 {
				continue
			}
			var n [4]int64
			for i := range f {
				if n[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
					return nil, fmt.Errorf("row %q: %w", line, err)
				}
			}
			rows = append(rows, sessionRow{time.Unix(n[0], 0).UTC(), time.Unix(n[1], 0).UTC(), int(n[2]), int(n[3])})
		}
		return rows, nil
	}
	var rows []sessionRow
	waitLong(t, 60*time.Second, "the session of "+stream+" in stream_sessions", func() bool {
		rows, err = sessions()
		return err == nil && len(rows) > 0
	}, func() string { return fmt.Sprintf("query: %v\n%s", err, tail(logs.String(), 3000)) })
	beats := metricAt(t, addr, "ronda_poll_events_total", `type="stream.heartbeat"`)
	stop() // the record is written or spooled; nothing more can arrive
	if rows, err = sessions(); err != nil {
		t.Fatal(err)
	}

	if len(rows) != 1 {
		t.Fatalf("%d sessions of %s recorded, want exactly 1 (the idle rule must not split a quiet broadcast): %+v", len(rows), stream, rows)
	}
	s := rows[0]
	duration := s.end.Sub(s.start)
	t.Logf("figure: session %s: start %s (%+v from live in rtmp_stat), end %s (%+v from ffmpeg's exit), duration %v (publish %v), minutes %d, heartbeats %d (poller sent %v)",
		stream, s.start.Format(time.TimeOnly), s.start.Sub(began).Round(time.Second), s.end.Format(time.TimeOnly), s.end.Sub(ended).Round(time.Second),
		duration, published.Round(time.Second), s.minutes, s.heartbeats, beats)
	// The start is the exec_publish hook's, the end exec_publish_done's:
	// within one poll interval of the publish's bounds (the hook process
	// takes wall milliseconds, each worth quietSpeed of them in event time).
	if d := s.start.Sub(began.Truncate(time.Second)); d < -pollInterval || d > pollInterval {
		t.Errorf("session start %s is %v from ffmpeg's start (%s), want within one poll interval (%v)", s.start, d, began, pollInterval)
	}
	if d := ended.Sub(s.end); d < -pollInterval || d > pollInterval {
		t.Errorf("session end %s is %v from ffmpeg's end (%s), want within one poll interval (%v)", s.end, d, ended, pollInterval)
	}
	if d := published - duration; d < -pollInterval || d > pollInterval {
		t.Errorf("session lasts %v, the publish %v of event time: off by %v, more than one poll interval (%v)", duration, published, d, pollInterval)
	}
	if duration <= idle {
		t.Errorf("session lasts %v, not past stream_idle %v", duration, idle)
	}
	// The analyzer counts whole minutes each time it folds a live stream
	// (at most once a heartbeat), so up to one a fold is left out.
	if want := int(duration/time.Minute) - s.heartbeats - 1; s.minutes < want || s.minutes > int(duration/time.Minute)+1 {
		t.Errorf("session minutes %d, want %d to %d for %v", s.minutes, want, int(duration/time.Minute)+1, duration)
	}
	// A heartbeat every poll interval through the broadcast, every gap far
	// under stream_idle: at least the duration's intervals less the first
	// and last (the poll's phase) and a little for a poll that overran.
	if want := int(duration/pollInterval) - 3; s.heartbeats < want {
		t.Errorf("session counts %d heartbeats, want at least %d (one every %v over %v)", s.heartbeats, want, pollInterval, duration)
	}
	if float64(s.heartbeats) > beats {
		t.Errorf("session counts %d heartbeats, more than the poller sent (%v)", s.heartbeats, beats)
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the hook secret is in Ronda's log")
	}
}

// metricAt sums the samples of name whose labels contain every one of
// labels, from the /metrics of the service at addr.
func metricAt(t *testing.T, addr, name string, labels ...string) float64 {
	t.Helper()
	return (&rondaProc{addr: addr}).metric(t, name, labels...)
}
