package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/simulate"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// Test secrets and tokens: made up for the tests, never used anywhere else.
const (
	keyID     = "ingest-1"
	keySecret = "test-intake-secret-0123456789abcdef"
	tokModA   = "token-moderator-a-0123456789"
	tokModB   = "token-moderator-b-0123456789"
	tokLead   = "token-lead-0123456789abcdef"
	tokViewer = "token-viewer-0123456789abcdef"
)

var testEnv = map[string]string{"RONDA_TEST_KEY_1": keySecret}

func getenv(k string) string { return testEnv[k] }

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// baseConfig is a service with one intake key and four moderators, spooling
// into a temporary directory.
func baseConfig(t testing.TB) Config {
	return Config{
		Intake: IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
		Moderators: ModeratorsConfig{Tokens: []hub.Token{
			{Name: "mod-a", Role: hub.RoleModerator, SHA256: sha(tokModA)},
			{Name: "mod-b", Role: hub.RoleModerator, SHA256: sha(tokModB)},
			{Name: "lead", Role: hub.RoleLead, SHA256: sha(tokLead)},
			{Name: "viewer", Role: hub.RoleViewer, SHA256: sha(tokViewer)},
		}},
		ClickHouse: ClickHouseConfig{SpoolDir: t.TempDir()},
		State:      StateConfig{Dir: t.TempDir()},
		Pipeline:   PipelineConfig{AdvanceEvery: 50 * time.Millisecond, DrainTimeout: 10 * time.Second},
		Node:       "test-node",
	}
}

// edgeConfig is an edge named node forwarding to the hub at hubAddr, with its
// own state and spools in tb's temporary directories.
func edgeConfig(tb testing.TB, node, hubAddr string) Config {
	return Config{Role: RoleEdge, Node: node,
		Intake:     IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
		Edge:       EdgeConfig{Hub: "ws://" + hubAddr, Key: SecretRef{ID: keyID, Env: "RONDA_TEST_KEY_1"}, SpoolDir: tb.TempDir()},
		State:      StateConfig{Dir: tb.TempDir()},
		ClickHouse: ClickHouseConfig{SpoolDir: tb.TempDir()},
		Pipeline:   PipelineConfig{DrainTimeout: 10 * time.Second},
	}
}

// running is a service started by startService.
type running struct {
	svc    *Service
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *lockedBuffer
	once   sync.Once
	err    error
}

// stop cancels the service and waits for Run to return.
func (r *running) stop(t testing.TB) error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(60 * time.Second):
			t.Fatal("service did not stop within 60s")
		}
	})
	return r.err
}

func startService(t testing.TB, cfg Config, extra ...func(*Options)) *running {
	t.Helper()
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	o := Options{Config: cfg, Getenv: getenv, Listener: ln,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range extra {
		f(&o)
	}
	svc, err := New(o)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, addr: svc.Addr(), cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("service log:\n%s", tail(logs.String(), 60))
		}
	})
	waitFor(t, 20*time.Second, "service ready", func() bool {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// post sends one signed NDJSON batch over HTTP and returns the status and body.
func post(t testing.TB, addr string, body []byte) (int, []byte) {
	t.Helper()
	return postSignedBy(t, addr, keyID, []byte(keySecret), body)
}

// postSignedBy sends one NDJSON batch signed now with key and secret and
// returns the status and body.
func postSignedBy(t testing.TB, addr, key string, secret, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+intake.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	wire.Sign(req, key, secret, body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// postOK posts a batch that must be taken whole.
func postOK(t testing.TB, addr string, body []byte) intake.Answer {
	t.Helper()
	for {
		code, b := post(t, addr, body)
		if code == http.StatusServiceUnavailable {
			time.Sleep(50 * time.Millisecond) // busy: retry, as a sender does
			continue
		}
		if code != http.StatusOK {
			t.Fatalf("intake answered %d: %s", code, b)
		}
		var a intake.Answer
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
}

// ndjson encodes events as one batch.
func ndjson(t testing.TB, evs []event.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i := range evs {
		b, err := json.Marshal(evs[i])
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// smallWorld is a three-day world with one ring, its times ending today.
func smallWorld(t testing.TB, seed int64) ([]event.Event, simulate.Labels) {
	return world(t, seed, 30, 3, 1)
}

// world is a world of hosts benign hosts and rings rings over days, its
// times ending today.
func world(t testing.TB, seed int64, hosts, days, rings int) ([]event.Event, simulate.Labels) {
	t.Helper()
	o := simulate.Options{Seed: seed, Days: days, Hosts: hosts, Rings: rings,
		Start: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)}
	var evs []event.Event
	labels, _, err := simulate.Generate(context.Background(), o, func(ev *event.Event) error {
		evs = append(evs, *ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, labels
}

// moderator is a real websocket console client.
type moderator struct {
	t    testing.TB
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	news chan struct{}
}

func dialModerator(t testing.TB, addr, token string) *moderator {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+hub.Path, h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("moderator dial: %v (HTTP %d)", err, code)
	}
	return readModerator(t, conn)
}

// readModerator reads conn's messages into a moderator.
func readModerator(t testing.TB, conn *websocket.Conn) *moderator {
	m := &moderator{t: t, conn: conn, news: make(chan struct{}, 1)}
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var msg map[string]any
			if json.Unmarshal(b, &msg) != nil {
				continue
			}
			m.mu.Lock()
			m.msgs = append(m.msgs, msg)
			m.mu.Unlock()
			select {
			case m.news <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return m
}

// find returns the first message for which match holds, waiting up to d.
func (m *moderator) find(d time.Duration, what string, match func(map[string]any) bool) map[string]any {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for {
		m.mu.Lock()
		for _, msg := range m.msgs {
			if match(msg) {
				m.mu.Unlock()
				return msg
			}
		}
		m.mu.Unlock()
		if time.Now().After(deadline) {
			m.t.Fatalf("moderator: no %s within %s", what, d)
		}
		select {
		case <-m.news:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *moderator) send(v any) {
	m.t.Helper()
	if err := m.conn.WriteJSON(v); err != nil {
		m.t.Fatal(err)
	}
}

// alertMsg matches an alert message at or above sev that names host h ("" any).
func alertMsg(sev analyzer.Severity, h string) func(map[string]any) bool {
	return func(msg map[string]any) bool {
		if msg["type"] != "alert" {
			return false
		}
		b, _ := json.Marshal(msg["alert"])
		var a analyzer.Alert
		if json.Unmarshal(b, &a) != nil || a.Severity < sev {
			return false
		}
		if h == "" {
			return true
		}
		for _, e := range a.Entities {
			if e.Kind == analyzer.KindHost && e.ID == h {
				return true
			}
		}
		return false
	}
}

// decodeAlert reads the alert of a hub message.
func decodeAlert(msg map[string]any) analyzer.Alert {
	b, _ := json.Marshal(msg["alert"])
	var a analyzer.Alert
	json.Unmarshal(b, &a)
	return a
}

// chServer is the package's ClickHouse, started on first use.
var chShared struct {
	once sync.Once
	srv  *chtest.Server
	dir  string
	err  error
}

func clickhouse(t testing.TB) *chtest.Server {
	t.Helper()
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	chShared.once.Do(func() {
		chShared.dir, chShared.err = os.MkdirTemp("", "ronda-serve-ch-")
		if chShared.err == nil {
			chShared.srv, chShared.err = chtest.Launch(chShared.dir, chtest.Config{})
		}
	})
	if chShared.err != nil {
		t.Fatalf("start clickhouse: %v", chShared.err)
	}
	return chShared.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chShared.srv != nil {
		chShared.srv.Stop()
	}
	if chShared.dir != "" {
		os.RemoveAll(chShared.dir)
	}
	os.Exit(code)
}

var dbSeq struct {
	sync.Mutex
	n int
}

func freshDB() string {
	dbSeq.Lock()
	defer dbSeq.Unlock()
	dbSeq.n++
	return fmt.Sprintf("ronda_serve_t%d", dbSeq.n)
}

// startHubAt starts a hub listening on addr: the address its edges were
// given while it was away.
func startHubAt(t *testing.T, addr string) *running {
	t.Helper()
	cfg := baseConfig(t)
	cfg.Role = RoleHub
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return startService(t, cfg, func(o *Options) { o.Listener.Close(); o.Listener = ln })
}

// restartOnCrashCopy copies r's state directory as a crash would leave it,
// stops r, and starts a service with cfg on the copy.
func restartOnCrashCopy(t *testing.T, r *running, cfg Config) *running {
	t.Helper()
	state := crashCopy(t, cfg.State.Dir)
	r.stop(t)
	cfg.State.Dir = state
	return startService(t, cfg)
}

// liveStreams is the number of streams r's engine holds.
func liveStreams(t *testing.T, ctx context.Context, r *running) int {
	t.Helper()
	var n int
	if err := r.svc.pipe.do(ctx, func(e *analyzer.Engine) { n = e.Stats().Streams }); err != nil {
		t.Fatal(err)
	}
	return n
}
