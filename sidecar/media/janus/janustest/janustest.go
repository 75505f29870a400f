// Package janustest starts a real Janus WebRTC server for tests, Debian's
// janus 1.1.2, in a temporary directory with its own configuration: the
// REST (HTTP) transport on a free loopback port, the VideoRoom plugin with
// VP8/Opus rooms, every other plugin and transport disabled, ICE on the
// loopback address only. Publisher joins a room through the same REST API
// with a real pion peer sending VP8 and Opus.
//
// It is for tests only. It never uses a Janus that happens to be running:
// each Server has its own directory, config and port, and is stopped by its
// process id when the test ends. It waits for readiness by polling the info
// endpoint, never by sleeping. A missing janus skips the test, except under
// CI=true where it is a failure naming the package.
package janustest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// Install is the command that installs what this package runs.
const Install = "apt-get install -y --no-install-recommends janus"

// libDir is where Debian's janus keeps its plugins and transports.
const libDir = "/usr/lib/x86_64-linux-gnu/janus"

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
	logTail      = 4000
)

// Need skips the test without janus, except under CI=true, where that is a
// failure naming the apt-get line.
func Need(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("janus")
	if err == nil {
		if _, err = os.Stat(filepath.Join(libDir, "plugins", "libjanus_videoroom.so")); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("janustest: janus not found (CI=true): %s", Install)
	}
	t.Skipf("janustest: janus not found; %s to run this test", Install)
}

// Options shape the server. The zero value has room 1234 and no API secret.
type Options struct {
	// APISecret is Janus's api_secret, which every request must carry.
	APISecret string
	// Rooms are the VideoRoom rooms created at start (VP8, Opus, six
	// publishers); default 1234.
	Rooms []uint64
}

// Server is one Janus, which can be killed and started again on the same
// port (a Janus restart as a client sees it).
type Server struct {
	t    testing.TB
	dir  string
	port int
	o    Options
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs janus in the foreground and returns once its REST API answers.
// It is stopped when the test ends; the tail of its log is logged if the test
// failed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Need(t)
	if len(o.Rooms) == 0 {
		o.Rooms = []uint64{1234}
	}
	s := &Server{t: t, dir: t.TempDir(), port: chtest.FreePort(t), o: o}
	if err := s.writeConfig(); err != nil {
		t.Fatalf("janustest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("janustest: janus log:\n%s", s.Log())
		}
	})
	s.Restart()
	return s
}

// URL is the REST API's base URL, http://127.0.0.1:PORT/janus.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) + "/janus" }

// Restart starts janus again after Kill or Stop (on the same port and
// config) and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.cmd = exec.Command("janus", "-C", filepath.Join(s.dir, "janus.jcfg"), "-F", s.dir,
		"-N", "-L", filepath.Join(s.dir, "janus.log"), "-o")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("janustest: start janus: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }()
	if err := s.waitReady(); err != nil {
		s.t.Fatalf("janustest: %v", err)
	}
}

func (s *Server) waitReady() error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("janus exited at start; log:\n%s", s.Log())
		default:
		}
		if resp, err := c.Get(s.URL() + "/info"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("janus not ready after %s; log:\n%s", readyTimeout, s.Log())
		}
		select {
		case <-s.done:
		case <-time.After(pollEvery):
		}
	}
}

// Kill ends janus with SIGKILL, as a crash would, and waits for it to exit.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Stop ends janus with SIGTERM (SIGKILL after stopTimeout); safe to call
// twice.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Log is the tail of janus's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "janus.log"))
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return string(b)
}

// disabled lists every plugin and transport of Debian's package but the
// VideoRoom and HTTP: the others need setup (brokers, SIP) or are not used.
var (
	disabledPlugins = []string{"audiobridge", "duktape", "echotest", "lua", "nosip",
		"recordplay", "sip", "streaming", "textroom", "videocall", "voicemail"}
	disabledTransports = []string{"mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets"}
)

func libs(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "libjanus_" + n + ".so"
	}
	return strings.Join(out, ",")
}

func (s *Server) writeConfig() error {
	secret := ""
	if s.o.APISecret != "" {
		secret = fmt.Sprintf("\tapi_secret = %q\n", s.o.APISecret)
	}
	core := fmt.Sprintf(`general: {
	configs_folder = %q
	plugins_folder = "%s/plugins"
	transports_folder = "%s/transports"
	events_folder = "%s/events"
	loggers_folder = "%s/loggers"
	debug_level = 4
	interface = "%s"
	session_timeout = 60
%s}
nat: {
	ice_enforce_list = "%s"
}
plugins: {
	disable = %q
}
transports: {
	disable = %q
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
events: {
	broadcast = false
}
`, s.dir, libDir, libDir, libDir, libDir, Address, secret, Interface, libs(disabledPlugins), libs(disabledTransports))
	http := fmt.Sprintf(`general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = %d
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
}
`, s.port)
	room := "general: {\n}\n"
	for _, r := range s.o.Rooms {
		room += fmt.Sprintf(`room-%d: {
	description = "Ronda test room %d"
	publishers = 6
	bitrate = 256000
	fir_freq = 2
	videocodec = "vp8"
	audiocodec = "opus"
}
`, r, r)
	}
	for name, body := range map[string]string{
		"janus.jcfg":                  core,
		"janus.transport.http.jcfg":   http,
		"janus.plugin.videoroom.jcfg": room,
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(body), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
