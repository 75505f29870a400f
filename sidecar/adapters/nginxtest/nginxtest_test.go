package nginxtest

import (
	"strings"
	"testing"
	"time"
)

// TestPublishLive: a publish is listed live in rtmp_stat while ffmpeg runs and
// no longer once it ended; ffmpeg exits 0.
func TestPublishLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx and ffmpeg")
	}
	t.Parallel()
	srv := Start(t, Options{Stat: true})
	p := Publish(t, srv, "probe?host=h", 2)
	if d := p.UntilLive(t); d <= 0 {
		t.Errorf("live %v after ffmpeg started", d)
	}
	p.Wait(t, "a publish to an open application")
	deadline := time.Now().Add(readyTimeout)
	for srv.Live("probe") {
		if time.Now().After(deadline) {
			t.Fatalf("probe still live %s after ffmpeg ended:\n%s", readyTimeout, srv.Log())
		}
		time.Sleep(pollEvery)
	}
	srv.Stop()
	srv.Stop()
	if _, err := srv.Stat(); err == nil {
		t.Error("stat page answers after Stop")
	}
}

// TestPublishRefused: the control, an application that denies publishing;
// Err reports ffmpeg's failure.
func TestPublishRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx and ffmpeg")
	}
	t.Parallel()
	srv := Start(t, Options{RTMPConf: "deny publish all;"})
	if err := Publish(t, srv, "refused", 2).Err(t); err == nil {
		t.Fatalf("publish passed a `deny publish all` application:\n%s", srv.Log())
	}
	if _, err := srv.Stat(); err == nil {
		t.Error("Stat without Options.Stat returned no error")
	}
	var nilServer *Server
	nilServer.Stop()
}

// TestRedact: a hook URL's secret never reaches a test's log.
func TestRedact(t *testing.T) {
	in := "on_publish http://127.0.0.1:1/hooks/nginx-rtmp?secret=s3cr3t-value;\nnotify: publish 'http://x/h?a=1&secret=abc&b=2'"
	out := Redact(in)
	if strings.Contains(out, "s3cr3t-value") || strings.Contains(out, "abc&") {
		t.Fatalf("a secret survived:\n%s", out)
	}
	if !strings.Contains(out, "secret=REDACTED;") || !strings.Contains(out, "secret=REDACTED&b=2") {
		t.Fatalf("redacted text lost its shape:\n%s", out)
	}
}
