// Package nginxtest starts a real nginx-rtmp ingest for tests, Debian's nginx
// with libnginx-mod-rtmp, in a temporary directory on free loopback ports, and
// publishes to it with a real ffmpeg: the media server that the nginx-rtmp
// adapter answers (on_publish, exec_publish) and whose rtmp_stat page the
// poller reads.
//
// It is for tests only. It never uses an nginx that happens to be running:
// each Server has its own directory, config and ports, and is stopped by its
// process id when the test ends. It waits for readiness by polling, never by
// sleeping a guessed time. A missing nginx, module or ffmpeg skips the test,
// except under CI=true where it is a failure that names the packages.
package nginxtest

import (
	"errors"
	"fmt"
	"io"
	"net"
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

	"github.com/ronda-watch/ronda/sidecar/poll"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// Module is where Debian's libnginx-mod-rtmp puts the RTMP module.
const Module = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// Install is the command that installs what this package runs.
const Install = "apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp ffmpeg"

// Bounds on waiting for nginx.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
	statTimeout  = 5 * time.Second
	logTail      = 3000
)

// nginxBinary finds nginx on PATH or in /usr/sbin, which a non-root PATH may
// lack.
func nginxBinary() (string, error) {
	p, err := exec.LookPath("nginx")
	if err == nil {
		return p, nil
	}
	if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", err
}

// missing names what is not installed of nginx, its RTMP module and ffmpeg.
func missing() []string {
	var out []string
	if _, err := nginxBinary(); err != nil {
		out = append(out, "nginx")
	}
	if _, err := os.Stat(Module); err != nil {
		out = append(out, Module)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		out = append(out, "ffmpeg")
	}
	return out
}

// Need skips the test without nginx, its RTMP module or ffmpeg, except under
// CI=true, where that is a failure naming the apt-get line.
func Need(t testing.TB) {
	t.Helper()
	m := missing()
	if len(m) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("nginxtest: %s not found (CI=true): %s", strings.Join(m, ", "), Install)
	}
	t.Skipf("nginxtest: %s not found; %s to run this test", strings.Join(m, ", "), Install)
}

// Options shape the ingest. The zero value is an RTMP application "live" that
// takes any publish, without a stat page.
type Options struct {
	// RTMPConf is nginx directives inserted inside `application live { live
	// on; ... }`, such as on_publish or exec_publish lines.
	RTMPConf string
	// Stat serves `rtmp_stat all;` at StatURL, and Start waits until it
	// answers.
	Stat bool
}

// Server is one running nginx-rtmp.
type Server struct {
	dir      string
	rtmpPort int
	statPort int // 0 without Options.Stat
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	client   *http.Client
}

// Start runs nginx with the RTMP module in the foreground (one process, no
// daemon) and returns once it accepts RTMP connections and, with Stat, serves
// its stat page. It is stopped when the test ends; the config and the tail of
// nginx's log are logged if the test failed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Need(t)
	nginx, err := nginxBinary()
	if err != nil {
		t.Fatalf("nginxtest: %v", err)
	}
	s := &Server{dir: t.TempDir(), done: make(chan struct{}), client: &http.Client{Timeout: statTimeout}}
	s.rtmpPort = chtest.FreePort(t)
	if o.Stat {
		s.statPort = chtest.FreePort(t)
	}
	conf := s.config(o)
	path := filepath.Join(s.dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatalf("nginxtest: write config: %v", err)
	}
	s.cmd = exec.Command(nginx, "-p", s.dir, "-e", s.logPath(), "-c", path)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("nginxtest: start %s: %v", nginx, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("nginxtest: nginx.conf:\n%s\nnginx log:\n%s", Redact(conf), s.Log())
		}
	})
	if err := s.waitReady(o.Stat); err != nil {
		t.Fatalf("nginxtest: %v", err)
	}
	return s
}

// config is the whole nginx configuration of the server.
func (s *Server) config(o Options) string {
	conf := fmt.Sprintf(`load_module %s;
daemon off; master_process off; worker_processes 1;
error_log %s info; pid %s;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:%d; application live { live on;
%s
} } }
`, Module, s.logPath(), filepath.Join(s.dir, "nginx.pid"), s.rtmpPort, o.RTMPConf)
	if o.Stat {
		// As a non-root process nginx needs its temp paths in the directory.
		conf += strings.NewReplacer("DIR", s.dir, "SP", strconv.Itoa(s.statPort)).Replace(
			`http { access_log off; client_body_temp_path DIR/cb; proxy_temp_path DIR/pt;
  fastcgi_temp_path DIR/ft; uwsgi_temp_path DIR/ut; scgi_temp_path DIR/st;
  server { listen 127.0.0.1:SP; location /stat { rtmp_stat all; } } }
`)
	}
	return conf
}

// waitReady polls the RTMP port and, with stat, the stat page until they
// answer, nginx exits or readyTimeout passes.
func (s *Server) waitReady(stat bool) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("nginx exited at start; log:\n%s", s.Log())
		default:
		}
		if s.ready(stat) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx not ready after %s; log:\n%s", readyTimeout, s.Log())
		}
		select {
		case <-s.done:
		case <-time.After(pollEvery):
		}
	}
}

func (s *Server) ready(stat bool) bool {
	c, err := net.DialTimeout("tcp", s.rtmpAddr(), 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	if !stat {
		return true
	}
	_, err = s.Stat()
	return err == nil
}

func (s *Server) rtmpAddr() string { return "127.0.0.1:" + strconv.Itoa(s.rtmpPort) }

func (s *Server) logPath() string { return filepath.Join(s.dir, "nginx-error.log") }

// RTMPURL is the URL a publisher of stream name uses, in application live.
// name may carry a query, as `stream?host=h`.
func (s *Server) RTMPURL(name string) string {
	return "rtmp://" + s.rtmpAddr() + "/live/" + name
}

// StatURL is the URL of the rtmp_stat page, empty without Options.Stat.
func (s *Server) StatURL() string {
	if s.statPort == 0 {
		return ""
	}
	return "http://127.0.0.1:" + strconv.Itoa(s.statPort) + "/stat"
}

// Stat reads the publishing streams from the rtmp_stat page with the poller's
// own decoder.
func (s *Server) Stat() ([]poll.Stream, error) {
	if s.statPort == 0 {
		return nil, errors.New("no stat page: start with Options.Stat")
	}
	resp, err := s.client.Get(s.StatURL())
	if err != nil {
		return nil, fmt.Errorf("get stat: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read stat: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stat: %s", resp.Status)
	}
	streams, _, err := poll.DecodeNginxStat(b, "", 1000)
	return streams, err
}

// Live reports whether the stat page lists name (without its query) as a
// publishing stream; false when the page cannot be read.
func (s *Server) Live(name string) bool {
	name, _, _ = strings.Cut(name, "?")
	streams, err := s.Stat()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(streams, func(st poll.Stream) bool { return st.Name == name })
}

// Log is the tail of nginx's error log (at level info, so it has nginx-rtmp's
// "notify" lines).
// Hook secrets in it are redacted, as a test's log is kept.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath())
	if len(b) > logTail {
		return "..." + Redact(string(b[len(b)-logTail:]))
	}
	return Redact(string(b))
}

var secretParam = regexp.MustCompile(`(secret=)[^&;\s"']+`)

// Redact hides the values of secret= parameters (the hook URLs' shared
// secret) in text bound for a test's log.
func Redact(s string) string { return secretParam.ReplaceAllString(s, "${1}REDACTED") }

// Stop ends nginx by its process id: SIGQUIT (a graceful stop), then SIGKILL
// if it is still running after a bounded time. Safe to call twice and on nil.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
	}
}
