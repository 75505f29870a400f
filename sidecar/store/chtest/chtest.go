// Package chtest starts a real ClickHouse server for tests: Debian's
// clickhouse-server (18.16) or any newer one found on PATH, in a temporary
// directory, on free loopback ports, stopped when the test ends.
//
// It is for tests only. It never uses a server that happens to be running: each
// Server has its own data directory, config and ports.
package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on waiting for the server.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
)

// Config adjusts a server before it starts. The zero value picks free ports.
type Config struct {
	// NativePort and HTTPPort, when non-zero, are used instead of free ports
	// (a cluster test reserves ports first to write remote_servers).
	NativePort, HTTPPort int
	// Extra is XML inserted inside the server config's root element, such as a
	// <remote_servers> section.
	Extra string
}

// Server is one running clickhouse-server.
type Server struct {
	dir        string
	bin        []string
	nativePort int
	httpPort   int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return p
}

// serverCommand finds the server binary: Debian's /usr/sbin or /usr/bin
// clickhouse-server, or a single-binary `clickhouse server`.
func serverCommand() []string {
	for _, p := range []string{"/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return []string{p}
		}
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}
	}
	return nil
}

// Available reports whether a server binary is installed.
func Available() bool { return serverCommand() != nil }

// Start starts a server with free ports and the default config.
func Start(t testing.TB) *Server { return StartWith(t, Config{}) }

// StartWith starts a server. Without a binary it skips the test, unless the
// environment has CI=true: there a missing server is a failure.
func StartWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	if !Available() {
		SkipOrFail(t)
	}
	s, err := Launch(t.TempDir(), cfg)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return s
}

// Launch starts a server in dir without a test, for a TestMain that shares one
// server across a package's tests. The caller stops it (Stop) and removes dir.
// It returns ErrNotInstalled without a binary.
func Launch(dir string, cfg Config) (*Server, error) {
	bin := serverCommand()
	if bin == nil {
		return nil, ErrNotInstalled
	}
	s := &Server{dir: dir, bin: bin, nativePort: cfg.NativePort, httpPort: cfg.HTTPPort}
	var err error
	if s.nativePort == 0 {
		if s.nativePort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if s.httpPort == 0 {
		if s.httpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := s.writeConfig(cfg.Extra); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return s, err
	}
	return s, nil
}

// ErrNotInstalled says no clickhouse-server binary was found.
var ErrNotInstalled = errors.New("clickhouse-server not installed")

// SkipOrFail skips a test (or fails it under CI=true) for a missing server.
func SkipOrFail(t testing.TB) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("chtest: clickhouse-server not installed (CI=true); install it: apt-get install -y clickhouse-server clickhouse-client")
	}
	t.Skip("chtest: clickhouse-server not installed; apt-get install -y clickhouse-server clickhouse-client to run this test")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NativeAddr is host:port of the native protocol.
func (s *Server) NativeAddr() string { return "127.0.0.1:" + strconv.Itoa(s.nativePort) }

// HTTPAddr is host:port of the HTTP interface.
func (s *Server) HTTPAddr() string { return "127.0.0.1:" + strconv.Itoa(s.httpPort) }

// NativePort and HTTPPort are the ports alone.
func (s *Server) NativePort() int { return s.nativePort }

// HTTPPort is the HTTP interface's port.
func (s *Server) HTTPPort() int { return s.httpPort }

// DSN is a clickhouse-go DSN for the native protocol with LZ4.
func (s *Server) DSN() string {
	return "clickhouse://default@" + s.NativeAddr() + "/default?compress=lz4&dial_timeout=5s"
}

// Dir is the server's directory: config, data and logs.
func (s *Server) Dir() string { return s.dir }

func (s *Server) writeConfig(extra string) error {
	d := s.dir
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
%[4]s
</yandex>
`, d, s.nativePort, s.httpPort, extra)
	users := `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(d, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "users.xml"), []byte(users), 0o644)
}

func (s *Server) start() error {
	args := append(append([]string{}, s.bin[1:]...), "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd := exec.Command(s.bin[0], args...)
	cmd.Dir = s.dir
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", s.bin[0], err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return s.waitReady(done)
}

// waitReady polls /ping and the native port until both answer.
func (s *Server) waitReady(done chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("clickhouse-server exited during start; log: %s", s.logTail())
		default:
		}
		resp, err := client.Get("http://" + s.HTTPAddr() + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c, err := net.DialTimeout("tcp", s.NativeAddr(), time.Second)
				if err == nil {
					c.Close()
					return nil
				}
			}
		}
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("clickhouse-server not ready after %s; log: %s", readyTimeout, s.logTail())
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log", "server.err.log"))
	if len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(s.dir, "log", "stdout.log"))
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
	default:
		cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
	s.wait(stopTimeout)
}

// Stop sends SIGTERM (after SIGCONT, in case it is frozen), waits a bounded
// time, then SIGKILL. Safe to call twice.
func (s *Server) Stop() {
	s.signal(syscall.SIGCONT)
	s.signal(syscall.SIGTERM)
	if !s.wait(stopTimeout) {
		s.Kill()
	}
}

// Freeze sends SIGSTOP: the ports stay open but nothing answers.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw sends SIGCONT.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) wait(d time.Duration) bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Restart stops the server if it runs and starts it again on the same ports with
// the same data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	// The old process may leave the port in TIME_WAIT briefly; the server sets
	// SO_REUSEADDR, so one attempt normally suffices; retry a few times on a bind
	// failure only.
	for i := 0; i < 5; i++ {
		if err = s.start(); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "exited") {
			break
		}
	}
	t.Fatalf("chtest: restart: %v", err)
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Client runs `clickhouse-client --query` against the server and returns its
// standard output (TabSeparated by default).
func (s *Server) Client(query string) (string, error) {
	bin, err := exec.LookPath("clickhouse-client")
	var args []string
	if err != nil {
		p, err2 := exec.LookPath("clickhouse")
		if err2 != nil {
			return "", errors.New("clickhouse-client not installed")
		}
		bin, args = p, []string{"client"}
	}
	args = append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(s.nativePort), "--query", query)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("clickhouse-client: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
