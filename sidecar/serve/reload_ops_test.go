package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// keyFile writes a secret to a file in dir and returns its path.
func keyFile(t testing.TB, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rereader is an Options.Reread whose configuration a test changes.
type rereader struct {
	mu  sync.Mutex
	cfg Config
}

func (r *rereader) set(c Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = c
}

func (r *rereader) reread() (Config, error) {
	r.mu.Lock()
	c := r.cfg
	r.mu.Unlock()
	return c, c.Finish()
}

// sender posts small signed batches with one key until stopped, and records
// when each request was sent and how it was answered.
type sender struct {
	addr, id, secret string
	client           *http.Client
	seq              atomic.Int64
	mu               sync.Mutex
	answers          []answer
}

type answer struct {
	sent, done time.Time
	status     int
	body       string
}

func (s *sender) once() (answer, error) {
	n := s.seq.Add(1)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	var body bytes.Buffer
	for i := range 3 {
		fmt.Fprintf(&body, `{"type":"stream.start","id":"%s-%d-%d","at":"%s","stream_id":"s-%s-%d","host_id":"h-%s"}`+"\n",
			s.id, n, i, at, s.id, n, s.id)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+s.addr+intake.Path, bytes.NewReader(body.Bytes()))
	if err != nil {
		return answer{}, err
	}
	a := answer{sent: time.Now()}
	wire.Sign(req, s.id, []byte(s.secret), body.Bytes(), a.sent)
	resp, err := s.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.done, a.status, a.body = time.Now(), resp.StatusCode, strings.TrimSpace(string(b))
	return a, nil
}

// run sends until ctx ends; busy answers (503) are retried, as senders do.
func (s *sender) run(ctx context.Context, t *testing.T, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			a, err := s.once()
			if err != nil {
				t.Errorf("sender %s: %v", s.id, err)
				return
			}
			if a.status == http.StatusServiceUnavailable {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			s.mu.Lock()
			s.answers = append(s.answers, a)
			s.mu.Unlock()
		}
	}()
}

// check reports every answer that breaks want, which says what status a
// request sent at sent must get.
func (s *sender) check(t *testing.T, want func(a answer) (status int, sure bool)) (n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := 0
	for _, a := range s.answers {
		st, sure := want(a)
		if sure && a.status != st {
			bad++
			if bad <= 5 {
				t.Errorf("key %s: request sent %s answered %d %q, want %d", s.id, a.sent.Format("15:04:05.000000"), a.status, a.body, st)
			}
		}
	}
	if bad > 5 {
		t.Errorf("key %s: %d wrong answers in all", s.id, bad)
	}
	return len(s.answers)
}

// TestReloadKeysUnderLoad rotates the intake keys with Reload (SIGHUP) while
// real signed senders keep posting over loopback: no request with a key that
// stays live is refused at any moment; no request with a removed key, or with
// the old secret of a rotated key, is accepted once the reload has returned;
// the added and rotated keys work from then on. A reload with a bad key file
// in between is refused whole, and changes nothing.
func TestReloadKeysUnderLoad(t *testing.T) {
	dir := t.TempDir()
	const (
		oldSecret  = "old-key-secret-0123456789abcdef"
		rotSecretA = "rotated-key-secret-A-0123456789"
		rotSecretB = "rotated-key-secret-B-0123456789"
		newSecret  = "new-key-secret-0123456789abcdef"
	)
	rotPath := keyFile(t, dir, "rot", rotSecretA)
	cfg := baseConfig(t)
	cfg.Intake.Keys = append(cfg.Intake.Keys,
		SecretRef{ID: "old", File: keyFile(t, dir, "old", oldSecret)},
		SecretRef{ID: "rot", File: rotPath})
	cfg.Intake.MaxInFlight = 64
	cfg.Intake.RateRequests = -1 // the senders are as fast as the machine; no 429
	rr := &rereader{cfg: cfg}
	r := startService(t, cfg, func(o *Options) { o.Reread = rr.reread })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	newSender := func(id, secret string) *sender { return &sender{addr: r.addr, id: id, secret: secret, client: client} }

	keep := []*sender{newSender(keyID, keySecret), newSender(keyID, keySecret)}
	old, rotA := newSender("old", oldSecret), newSender("rot", rotSecretA)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range append(keep, old, rotA) {
		s.run(ctx, t, &wg)
	}
	time.Sleep(300 * time.Millisecond)

	// A reload whose new key is too short: refused whole, mid-load.
	bad := cfg
	bad.Intake.Keys = append([]SecretRef{cfg.Intake.Keys[0], {ID: "new", File: keyFile(t, dir, "short", "too-short")}}, cfg.Intake.Keys[2:]...)
	rr.set(bad)
	if err := r.svc.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), `"new"`) {
		t.Errorf("reload with a short key: %v, want a refusal naming the key", err)
	}
	time.Sleep(200 * time.Millisecond)

	// The real rotation: "old" removed, "rot" given a new secret, "new" added.
	good := cfg
	good.Intake.Keys = []SecretRef{cfg.Intake.Keys[0], {ID: "new", File: keyFile(t, dir, "new", newSecret)}, {ID: "rot", File: rotPath}}
	keyFile(t, dir, "rot", rotSecretB)
	rr.set(good)
	reloadStart := time.Now()
	if err := r.svc.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	reloaded := time.Now()
	added, rotB := newSender("new", newSecret), newSender("rot", rotSecretB)
	for _, s := range []*sender{added, rotB} {
		s.run(ctx, t, &wg)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()

	ok := func(answer) (int, bool) { return http.StatusOK, true }
	removed := func(a answer) (int, bool) {
		switch {
		case a.done.Before(reloadStart):
			return http.StatusOK, true
		case !a.sent.Before(reloaded):
			return http.StatusUnauthorized, true
		}
		return 0, false // in flight during the swap: either
	}
	for _, s := range keep {
		if n := s.check(t, ok); n < 20 {
			t.Errorf("a kept key's sender got only %d answers", n)
		}
	}
	for _, s := range []*sender{old, rotA} {
		s.check(t, removed)
	}
	for _, s := range []*sender{added, rotB} {
		if n := s.check(t, ok); n < 5 {
			t.Errorf("sender %s got only %d answers after the reload", s.id, n)
		}
	}
	afterOld := 0
	for _, a := range old.answers {
		if !a.sent.Before(reloaded) {
			afterOld++
		}
	}
	if afterOld == 0 {
		t.Error("no request with the removed key was sent after the reload: the test proved nothing")
	}
	t.Logf("answers: kept key %d+%d, removed key %d (%d sent after the reload), old secret of the rotated key %d, added key %d, new secret %d",
		len(keep[0].answers), len(keep[1].answers), len(old.answers), afterOld, len(rotA.answers), len(added.answers), len(rotB.answers))
	if ok, bad := metricSum(t, r.svc.reg, "ronda_config_reloads_total", "result", "ok"),
		metricSum(t, r.svc.reg, "ronda_config_reloads_total", "result", "error"); ok != 1 || bad != 1 {
		t.Errorf("ronda_config_reloads_total ok %v error %v, want 1 and 1", ok, bad)
	}
	logs := r.logs.String()
	for _, secret := range []string{oldSecret, rotSecretA, rotSecretB, newSecret, keySecret, "too-short"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret is in the log")
		}
	}
	if !strings.Contains(logs, "intake keys: 3 live, 1 added, 1 removed, 1 rotated") {
		t.Errorf("the reload's log line does not count the changes:\n%s", tail(logs, 20))
	}
}

// TestReloadRestartNeeded: a reload that changes what only a restart can
// (the listen address, a directory, the role, turning a webhook on) is
// refused whole, naming each key, and the keys it also changed stay as they
// were.
func TestReloadRestartNeeded(t *testing.T) {
	cfg := baseConfig(t)
	rr := &rereader{cfg: cfg}
	r := startService(t, cfg, func(o *Options) { o.Reread = rr.reread })
	next := cfg
	next.Listen = "127.0.0.1:9999"
	next.ClickHouse.SpoolDir = t.TempDir()
	next.Adapters.SRS = SecretRef{ID: "srs", Env: "RONDA_TEST_KEY_1"}
	next.Intake.Keys = append(next.Intake.Keys, SecretRef{ID: "second", Env: "RONDA_TEST_KEY_1"})
	rr.set(next)
	err := r.svc.Reload(context.Background())
	if err == nil {
		t.Fatal("reload accepted")
	}
	for _, want := range []string{"listen", "clickhouse.spool_dir", "adapters.srs", "restart"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	body := []byte(`{"type":"stream.start","id":"x","at":"` + time.Now().UTC().Format(time.RFC3339) + `","stream_id":"s","host_id":"h"}` + "\n")
	if code, _ := postSignedBy(t, r.addr, "second", []byte(keySecret), body); code != http.StatusUnauthorized {
		t.Errorf("a key added by a refused reload answered %d, want 401", code)
	}
	if n := metricSum(t, r.svc.reg, "ronda_config_reloads_total", "result", "error"); n != 1 {
		t.Errorf("%v refused reloads counted, want 1", n)
	}
}

// TestReloadAudited: an applied reload is a row of ClickHouse's actions
// table: moderator "system", action "config_reloaded", the changes counted
// in the note, no secret anywhere.
func TestReloadAudited(t *testing.T) {
	ch := clickhouse(t)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	rr := &rereader{cfg: cfg}
	r := startService(t, cfg, func(o *Options) { o.Reread = rr.reread })
	next := cfg
	const secret = "audited-key-secret-0123456789"
	next.Intake.Keys = append(next.Intake.Keys, SecretRef{ID: "added", File: keyFile(t, t.TempDir(), "k", secret)})
	rr.set(next)
	if err := r.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out string
	waitFor(t, 30*time.Second, "the reload in the actions table", func() bool {
		var err error
		out, err = ch.Client("SELECT moderator, action, alert_id, note FROM " + cfg.ClickHouse.Database + ".actions FINAL WHERE action = 'config_reloaded' FORMAT TSV")
		return err == nil && strings.TrimSpace(out) != ""
	})
	f := strings.Split(strings.TrimSpace(out), "\t")
	if len(f) != 4 || f[0] != "system" || f[1] != "config_reloaded" || f[2] != "" ||
		!strings.Contains(f[3], "intake keys: 2 live, 1 added, 0 removed, 0 rotated") {
		t.Errorf("audit row %q", out)
	}
	if strings.Contains(out, secret) || strings.Contains(out, keySecret) {
		t.Error("a secret is in the audit row")
	}
}

// TestReloadTokensAndWebhookSecrets: a reload removes a moderator's token
// (its open socket is closed and it is refused from then on), adds one (it
// connects), and rotates a webhook secret (the old one is refused, the new one
// taken). A reload whose token list the hub refuses (a name twice) puts back
// the intake key it had already swapped: all or nothing.
func TestReloadTokensAndWebhookSecrets(t *testing.T) {
	dir := t.TempDir()
	const (
		srsOld = "srs-secret-old-0123456789"
		srsNew = "srs-secret-new-0123456789"
		tokNew = "token-new-moderator-0123456789"
	)
	srsPath := keyFile(t, dir, "srs", srsOld)
	cfg := baseConfig(t)
	cfg.Adapters.SRS = SecretRef{ID: "srs", File: srsPath}
	rr := &rereader{cfg: cfg}
	r := startService(t, cfg, func(o *Options) { o.Reread = rr.reread })
	hook := func(secret string) int {
		t.Helper()
		b, err := os.ReadFile("../adapters/testdata/srs/on_publish.json")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+r.addr+"/hooks/srs?secret="+secret, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	unauthorized := func() float64 {
		return metricSum(t, r.svc.reg, "ronda_adapter_webhooks_total", "result", "unauthorized")
	}
	if code := hook(srsOld); code != http.StatusOK || unauthorized() != 0 {
		t.Fatalf("srs with its secret: %d, %v unauthorized", code, unauthorized())
	}
	a, _, err := websocket.DefaultDialer.Dial("ws://"+r.addr+hub.Path, http.Header{"Authorization": {"Bearer " + tokModA}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	aClosed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := a.ReadMessage(); err != nil {
				aClosed <- err
				return
			}
		}
	}()

	// Refused whole: an intake key added, and a token list with a name twice.
	bad := cfg
	bad.Intake.Keys = append(bad.Intake.Keys, SecretRef{ID: "extra", File: keyFile(t, dir, "extra", "extra-key-secret-0123456789")})
	bad.Moderators.Tokens = append(bad.Moderators.Tokens, hub.Token{Name: "mod-a", Role: hub.RoleModerator, SHA256: sha(tokNew)})
	rr.set(bad)
	if err := r.svc.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "mod-a") {
		t.Fatalf("reload with a token name twice: %v, want the hub's refusal", err)
	}
	body := []byte(`{"type":"stream.start","id":"x1","at":"` + time.Now().UTC().Format(time.RFC3339) + `","stream_id":"s","host_id":"h"}` + "\n")
	if code, _ := postSignedBy(t, r.addr, "extra", []byte("extra-key-secret-0123456789"), body); code != http.StatusUnauthorized {
		t.Errorf("the key of a refused reload answered %d, want 401 (put back)", code)
	}

	// Applied: mod-a's token removed, a new one added, the SRS secret rotated.
	good := cfg
	good.Moderators.Tokens = append([]hub.Token{{Name: "mod-new", Role: hub.RoleModerator, SHA256: sha(tokNew)}}, cfg.Moderators.Tokens[1:]...)
	keyFile(t, dir, "srs", srsNew)
	rr.set(good)
	if err := r.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-aClosed:
		if !websocket.IsCloseError(err, hub.CloseTokenRemoved) {
			t.Errorf("mod-a's socket ended with %v, want close code %d", err, hub.CloseTokenRemoved)
		}
	case <-time.After(5 * time.Second):
		t.Error("mod-a's socket still open 5s after its token was removed")
	}
	if resp, err := http.DefaultClient.Do(wsUpgrade("http://"+r.addr+hub.Path, tokModA, "")); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a removed token answered %d, want 401", resp.StatusCode)
	}
	n := dialModerator(t, r.addr, tokNew)
	n.find(5*time.Second, "snapshot for the new token", func(m map[string]any) bool { return m["type"] == "snapshot" })
	// SRS admission hooks answer allow whatever happens (a refusal must not
	// stop a broadcast); a wrong secret is counted.
	before := unauthorized()
	hook(srsOld)
	if unauthorized() != before+1 {
		t.Error("the old SRS secret was not refused after the reload")
	}
	hook(srsNew)
	if unauthorized() != before+1 {
		t.Error("the new SRS secret was refused after the reload")
	}
	if !strings.Contains(r.logs.String(), "moderator tokens: 4 live, 1 added, 1 removed, 0 rotated") ||
		!strings.Contains(r.logs.String(), "srs webhook secret rotated") {
		t.Errorf("the reload's log line does not count the changes:\n%s", tail(r.logs.String(), 20))
	}
}

// TestReloadEdge: an edge, which runs no analyzer, reloads its intake keys
// too (its link to the hub, edge.key and edge.hub, needs a restart).
func TestReloadEdge(t *testing.T) {
	hubCfg := baseConfig(t)
	hubCfg.Role = RoleHub
	h := startService(t, hubCfg)
	cfg := edgeConfig(t, "edge-r", h.addr)
	rr := &rereader{cfg: cfg}
	e := startService(t, cfg, func(o *Options) { o.Reread = rr.reread })
	const secret = "edge-added-key-0123456789"
	next := cfg
	next.Intake.Keys = append(next.Intake.Keys, SecretRef{ID: "added", File: keyFile(t, t.TempDir(), "k", secret)})
	rr.set(next)
	if err := e.svc.Reload(context.Background()); err != nil {
		t.Fatalf("edge reload: %v", err)
	}
	s := &sender{addr: e.addr, id: "added", secret: secret, client: http.DefaultClient}
	if a, err := s.once(); err != nil || a.status != http.StatusOK {
		t.Errorf("the added key at the edge: %+v %v", a, err)
	}
	moved := next
	moved.Edge.Key.ID = "another"
	rr.set(moved)
	if err := e.svc.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "edge.key") {
		t.Errorf("edge.key changed: %v, want a restart refusal naming it", err)
	}
	if ok, bad := metricSum(t, e.svc.reg, "ronda_config_reloads_total", "result", "ok"),
		metricSum(t, e.svc.reg, "ronda_config_reloads_total", "result", "error"); ok != 1 || bad != 1 {
		t.Errorf("edge reloads ok %v error %v, want 1 and 1", ok, bad)
	}
}
