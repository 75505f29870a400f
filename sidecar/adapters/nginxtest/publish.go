package nginxtest

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Bounds on waiting for ffmpeg.
const (
	publishTimeout = 90 * time.Second
	liveTimeout    = 60 * time.Second
)

// Publisher is one ffmpeg publishing a test pattern with sound to a Server.
type Publisher struct {
	srv     *Server
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when cmd has exited; err and stderr are final then
	err     error
	stderr  bytes.Buffer // read only after done
}

// Publish starts ffmpeg publishing a generated 160x120 test pattern and a sine
// tone, in real time, for seconds, to stream name (which may carry a query) of
// srv. It does not wait: Wait, Err and UntilLive do. ffmpeg is killed when the
// test ends if it still runs.
func Publish(t testing.TB, srv *Server, name string, seconds int) *Publisher {
	t.Helper()
	p := &Publisher{srv: srv, name: name, done: make(chan struct{})}
	p.cmd = exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine",
		"-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-c:a", "aac",
		"-f", "flv", srv.RTMPURL(name))
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, &p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("nginxtest: start ffmpeg: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Err waits for ffmpeg to end and returns nil when it published to the end,
// or its exit error with what it wrote: nginx-rtmp refused or cut the
// broadcast. It fails the test if ffmpeg still runs after a bounded time.
func (p *Publisher) Err(t testing.TB) error {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(publishTimeout):
		t.Fatalf("nginxtest: ffmpeg publishing %s still running after %s", p.name, publishTimeout)
	}
	if p.err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", p.err, p.stderr.String())
	}
	return nil
}

// Wait waits for ffmpeg to end and fails the test, naming what, unless it
// published to the end.
func (p *Publisher) Wait(t testing.TB, what string) {
	t.Helper()
	if err := p.Err(t); err != nil {
		t.Fatalf("%s: the broadcast failed: %v\nnginx:\n%s", what, err, p.srv.Log())
	}
}

// UntilLive waits, while ffmpeg runs, until the stat page lists the stream,
// and returns how long after ffmpeg's start that was. It fails the test if
// ffmpeg ends first or the stream is not live within a bounded time.
func (p *Publisher) UntilLive(t testing.TB) time.Duration {
	t.Helper()
	deadline := time.Now().Add(liveTimeout)
	for {
		select {
		case <-p.done:
			t.Fatalf("nginxtest: ffmpeg ended (%v) before %s was seen live:\n%s\nnginx:\n%s", p.err, p.name, p.stderr.String(), p.srv.Log())
		default:
		}
		if p.srv.Live(p.name) {
			return time.Since(p.started)
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginxtest: %s not live in rtmp_stat after %s:\n%s", p.name, liveTimeout, p.srv.Log())
		}
		select {
		case <-p.done:
		case <-time.After(pollEvery):
		}
	}
}
