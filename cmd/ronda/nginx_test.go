package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// The real parts of these tests: Debian's nginx with libnginx-mod-rtmp as the
// ingest and ffmpeg publishing a test pattern (sidecar/adapters/nginxtest),
// the ronda binary, ClickHouse.

// rondaProc is one `ronda serve` process.
type rondaProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
}

// startServe starts `ronda serve`; owner (the test that outlives it, which
// may be t's parent) kills it at its end if it still runs.
func startServe(t, owner *testing.T, conf string, env []string) *rondaProc {
	t.Helper()
	r := &rondaProc{stderr: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(ronda(t), "serve", "--config", conf)
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	owner.Cleanup(func() { r.kill() })
	addrRE := regexp.MustCompile(`msg="ronda serving".* addr=(\S+)`)
	waitLong(t, 60*time.Second, "ronda serve to listen", func() bool {
		select {
		case <-r.done:
			t.Fatalf("ronda serve exited at start:\n%s", r.stderr.String())
		default:
		}
		if m := addrRE.FindStringSubmatch(r.stderr.String()); m != nil {
			r.addr = m[1]
			return true
		}
		return false
	}, r.stderr.String)
	return r
}

// stop ends the service with SIGTERM, as an operator's restart does.
func (r *rondaProc) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGCONT) // in case it is frozen
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.kill()
		t.Fatalf("ronda serve did not stop within 60s of SIGTERM:\n%s", r.stderr.String())
	}
}

func (r *rondaProc) kill() {
	select {
	case <-r.done:
	default:
		r.cmd.Process.Signal(syscall.SIGCONT)
		r.cmd.Process.Kill()
		<-r.done
	}
}

// metric sums the samples of name whose labels contain every one of labels,
// from the service's /metrics.
func (r *rondaProc) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + dialable(r.addr) + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// waitLong polls cond every 50 ms until it holds or d passes.
func waitLong(t *testing.T, d time.Duration, what string, cond func() bool, log func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s:\n%s", d, what, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// serveConf is a `ronda serve` configuration beside the test's ingest.
func serveConf(t *testing.T, dir string, port int, dsn, rtmpSecretEnv, statURL string) string {
	t.Helper()
	conf := filepath.Join(dir, "serve.yaml")
	body := fmt.Sprintf(`listen: 127.0.0.1:%d
node: ingest-test
pipeline: {drain_timeout: 10s}
intake:
  keys: [{id: k1, env: RONDA_TEST_INTAKE}]
moderators:
  tokens: [{name: m, role: lead, sha256: %s}]
  console: false
clickhouse: {dsn: %q, spool_dir: %s}
state: {dir: %s}
adapters:
  nginx_rtmp: {env: %s}
pollers:
  nginx_rtmp: [{url: %q, interval: 1s, resume: true}]
`, port, strings.Repeat("ab", 32), dsn, filepath.Join(dir, "spool"), filepath.Join(dir, "state"), rtmpSecretEnv, statURL)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestNginxRTMPFailOpen is issue 13's "must show" with real parts: nginx-rtmp
// wired as deploy/nginx-rtmp/nginx.conf wires it (exec_publish and
// exec_publish_done running `ronda hook`, rtmp_stat polled for heartbeats),
// ffmpeg publishing, `ronda serve` recording to ClickHouse:
//
//  1. right secret: the session is recorded with its start, end and the
//     poller's heartbeats;
//  2. wrong secret: the broadcast goes through (live in rtmp_stat, ffmpeg
//     exits 0) and nothing is recorded;
//  3. Ronda stopped: the broadcast goes through;
//  4. Ronda frozen (SIGSTOP): the publish is live in rtmp_stat while Ronda is
//     still frozen, so it did not wait on Ronda;
//  5. Ronda stopped in the middle of a broadcast: the broadcast goes on, and
//     heartbeats resume when Ronda is back.
func TestNginxRTMPFailOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx, ffmpeg, ClickHouse and ronda serve; skipped with -short")
	}
	nginxtest.Need(t)
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	bin := ronda(t)
	ch := chtest.Start(t)
	dir := t.TempDir()
	rondaPort := chtest.FreePort(t)
	const secret = "rtmp-hook-secret-0123456789"
	secretFile := filepath.Join(dir, "hook.secret")
	setSecret := func(s string) {
		if err := os.WriteFile(secretFile, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setSecret(secret)
	hookURL := fmt.Sprintf("http://127.0.0.1:%d/hooks/nginx-rtmp", rondaPort)
	hook := func(call string) string {
		return fmt.Sprintf("  exec_%s %s hook nginx-rtmp --url %s --secret-file %s\n    call=%s app=$app name=$name addr=$addr args=$args;",
			call, bin, hookURL, secretFile, call)
	}
	in := nginxtest.Start(t, nginxtest.Options{RTMPConf: hook("publish") + "\n" + hook("publish_done"), Stat: true})
	conf := serveConf(t, dir, rondaPort, ch.DSN(), "RONDA_TEST_RTMP", in.StatURL())
	env := []string{"RONDA_TEST_INTAKE=intake-secret-0123456789abcdef", "RONDA_TEST_RTMP=" + secret}
	svc := startServe(t, t, conf, env)
	owner := t
	session := func(stream string) (heartbeats int, ok bool) {
		out, err := ch.Client("SELECT heartbeats, toUnixTimestamp(end) - toUnixTimestamp(start) FROM ronda.stream_sessions FINAL WHERE stream_id = '" + stream + "'")
		if err != nil || strings.TrimSpace(out) == "" {
			return 0, false
		}
		f := strings.Fields(out)
		n, _ := strconv.Atoi(f[0])
		return n, true
	}

	// The hook's own answer time, run as nginx runs it, against Ronda running.
	var hookTimes []time.Duration
	for range 5 {
		start := time.Now()
		out, err := exec.Command(bin, "hook", "nginx-rtmp", "--url", hookURL, "--secret-file", secretFile,
			"call=publish_done", "app=live", "name=probe", "addr=127.0.0.1").CombinedOutput()
		hookTimes = append(hookTimes, time.Since(start))
		if err != nil || len(out) > 0 {
			t.Fatalf("hook against a running Ronda: %v\n%s", err, out)
		}
	}
	t.Logf("figure: ronda hook process, Ronda running: median %v of %v", median(hookTimes), hookTimes)

	// timeToLive publishes n short test patterns one after the other and
	// returns how long each took to be listed live in rtmp_stat.
	timeToLive := func(t *testing.T, prefix string, n int) []time.Duration {
		var ds []time.Duration
		for i := range n {
			p := nginxtest.Publish(t, in, fmt.Sprintf("%s-%d", prefix, i), 2)
			ds = append(ds, p.UntilLive(t))
			p.Wait(t, prefix)
		}
		return ds
	}

	// 1. The right secret.
	var liveRunning []time.Duration
	t.Run("right secret", func(t *testing.T) {
		p := nginxtest.Publish(t, in, "s-right", 6)
		p.UntilLive(t)
		p.Wait(t, "right secret")
		waitLong(t, 60*time.Second, "the session of live/s-right in stream_sessions", func() bool {
			_, ok := session("live/s-right")
			return ok
		}, svc.stderr.String)
		beats, _ := session("live/s-right")
		if beats < 2 {
			t.Errorf("live/s-right recorded with %d heartbeats, want at least 2 (6 s polled every second)", beats)
		}
		t.Logf("live/s-right: session recorded with %d heartbeats", beats)
		liveRunning = timeToLive(t, "ttl-running", 3)
	})

	// 2. A wrong secret (a rotation half done): the broadcast goes through.
	t.Run("wrong secret", func(t *testing.T) {
		setSecret("not-the-secret-0123456789")
		defer setSecret(secret)
		hooks := svc.metric(t, "ronda_adapter_webhooks_total")
		p := nginxtest.Publish(t, in, "s-wrong", 4)
		p.UntilLive(t)
		p.Wait(t, "wrong secret")
		waitLong(t, 30*time.Second, "both hook calls answered", func() bool {
			return svc.metric(t, "ronda_adapter_webhooks_total") >= hooks+2
		}, svc.stderr.String)
	})

	// 3. Ronda stopped: the broadcast goes through.
	t.Run("ronda stopped", func(t *testing.T) {
		svc.stop(t)
		p := nginxtest.Publish(t, in, "s-down", 3)
		p.UntilLive(t)
		p.Wait(t, "Ronda stopped")
	})

	// 4. Ronda frozen: live in rtmp_stat while Ronda is still frozen.
	t.Run("ronda frozen", func(t *testing.T) {
		svc = startServe(t, owner, conf, env)
		if err := svc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		liveFrozen := timeToLive(t, "ttl-frozen", 3)
		p := nginxtest.Publish(t, in, "s-frozen", 4)
		p.UntilLive(t)
		// Still frozen: a stopped process's state is T in /proc.
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", svc.cmd.Process.Pid)); !strings.Contains(string(st), ") T ") {
			t.Fatalf("ronda serve is not frozen: %s", st)
		}
		t.Logf("figure: publish live in rtmp_stat after ffmpeg started: Ronda frozen median %v of %v; Ronda running median %v of %v",
			median(liveFrozen), liveFrozen, median(liveRunning), liveRunning)
		start := time.Now()
		out, _ := exec.Command(bin, "hook", "nginx-rtmp", "--url", hookURL, "--secret-file", secretFile,
			"call=publish_done", "app=live", "name=probe", "addr=127.0.0.1").CombinedOutput()
		t.Logf("figure: ronda hook process, Ronda frozen: %v (bound --timeout 2s); %s", time.Since(start), strings.TrimSpace(string(out)))
		p.Wait(t, "Ronda frozen")
		svc.cmd.Process.Signal(syscall.SIGCONT)
	})

	// 5. Ronda stopped in the middle of a broadcast, then back.
	t.Run("ronda restarted mid-broadcast", func(t *testing.T) {
		p := nginxtest.Publish(t, in, "s-mid", 15)
		p.UntilLive(t)
		waitLong(t, 30*time.Second, "heartbeats of the first Ronda", func() bool {
			return svc.metric(t, "ronda_poll_events_total", `type="stream.heartbeat"`) >= 2
		}, svc.stderr.String)
		svc.stop(t)
		if !in.Live("s-mid") {
			t.Fatalf("s-mid is not live after Ronda stopped:\n%s", in.Log())
		}
		back := time.Now().Unix()
		svc = startServe(t, owner, conf, env)
		waitLong(t, 30*time.Second, "heartbeats from the new Ronda", func() bool {
			return svc.metric(t, "ronda_poll_events_total", `type="stream.heartbeat"`) >= 2
		}, svc.stderr.String)
		if !in.Live("s-mid") {
			t.Errorf("s-mid no longer live when heartbeats resumed")
		}
		p.Wait(t, "Ronda restarted mid-broadcast")
		// In the record: the broadcast, resumed by the new Ronda (its start
		// went to the first one), ended by its hook, with the new heartbeats.
		q := fmt.Sprintf("SELECT max(heartbeats) FROM ronda.stream_sessions FINAL WHERE stream_id = 'live/s-mid' AND toUnixTimestamp(end) >= %d", back)
		waitLong(t, 60*time.Second, "the resumed session of live/s-mid in stream_sessions", func() bool {
			out, err := ch.Client(q)
			n, _ := strconv.Atoi(strings.TrimSpace(out))
			return err == nil && n >= 2
		}, func() string {
			rows, _ := ch.Client("SELECT start, end, heartbeats FROM ronda.stream_sessions FINAL WHERE stream_id = 'live/s-mid'")
			return fmt.Sprintf("restart at %d; sessions of live/s-mid:\n%s\npoll starts %v, heartbeats %v\n%s", back, rows,
				svc.metric(t, "ronda_poll_events_total", `type="stream.start"`),
				svc.metric(t, "ronda_poll_events_total", `type="stream.heartbeat"`), tail(svc.stderr.String(), 3000))
		})
	})

	// The record after a graceful stop: nothing of the wrong-secret stream.
	svc.stop(t)
	if n := count(t, ch, "SELECT count() FROM ronda.events WHERE stream_id = 'live/s-wrong'"); n != 0 {
		t.Errorf("%d events recorded for the wrong-secret broadcast, want none", n)
	}
	if _, ok := session("live/s-wrong"); ok {
		t.Error("a session recorded for the wrong-secret broadcast")
	}
	if strings.Contains(svc.stderr.String(), secret) {
		t.Error("the hook secret is in Ronda's log")
	}
}

// TestNginxRTMPOnPublishWrongSecret: with on_publish wired (the enforcement
// lever) and a wrong secret in its URL, the broadcast still goes through,
// because Ronda's adapter answers "allow" to whatever it cannot judge.
func TestNginxRTMPOnPublishWrongSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx, ffmpeg and ronda serve; skipped with -short")
	}
	nginxtest.Need(t)
	dir := t.TempDir()
	rondaPort := chtest.FreePort(t)
	onPublish := fmt.Sprintf("  on_publish http://127.0.0.1:%d/hooks/nginx-rtmp?secret=not-the-secret-0123456789;", rondaPort)
	in := nginxtest.Start(t, nginxtest.Options{RTMPConf: onPublish, Stat: true})
	conf := serveConf(t, dir, rondaPort, "", "RONDA_TEST_RTMP", in.StatURL())
	svc := startServe(t, t, conf, []string{"RONDA_TEST_INTAKE=intake-secret-0123456789abcdef", "RONDA_TEST_RTMP=rtmp-hook-secret-0123456789"})
	p := nginxtest.Publish(t, in, "s-enforced", 3)
	p.UntilLive(t)
	p.Wait(t, "on_publish with a wrong secret")
	if n := svc.metric(t, "ronda_adapter_webhooks_total"); n < 1 {
		t.Errorf("on_publish never reached Ronda (%v webhooks)", n)
	}
	svc.stop(t)
}
