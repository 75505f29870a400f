package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
	"github.com/ronda-watch/ronda/sidecar/enforce"
	"github.com/ronda-watch/ronda/sidecar/outbound"
)

const payoutSecret = "payout-hold-secret-0123456789abcdef"

// payoutPlatform stands in for the platform's payout-hold endpoint: a real
// HTTP server that verifies the signature and keeps each key once.
type payoutPlatform struct {
	mu   sync.Mutex
	kept map[string]map[string]any
	bad  int
}

func (p *payoutPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := outbound.Verify([]byte(payoutSecret), r.Header.Get(outbound.TimestampHeader), r.Header.Get(outbound.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		p.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var v map[string]any
	_ = json.Unmarshal(body, &v)
	p.kept[r.Header.Get(outbound.IdempotencyHeader)] = v
}

func (p *payoutPlatform) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.kept) }

// TestLeversThroughTheService: a lead approves a deny_publish lever through
// the API (a viewer and a moderator cannot), and Debian's nginx-rtmp, its
// on_publish pointed at the service, refuses that host's ffmpeg while
// another host broadcasts; a payout hold reaches the platform signed; the
// steps are audited in ClickHouse's actions; a restart keeps the levers.
func TestLeversThroughTheService(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx, ffmpeg and ClickHouse")
	}
	nginxtest.Need(t)
	ch := clickhouse(t)
	db := freshDB()
	platform := &payoutPlatform{kept: map[string]map[string]any{}}
	psrv := httptest.NewServer(platform)
	defer psrv.Close()
	testEnv["RONDA_TEST_RTMP"] = "rtmp-secret-0123456789"
	testEnv[payoutHoldSecretEnv] = payoutSecret
	defer delete(testEnv, payoutHoldSecretEnv)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN, cfg.ClickHouse.Database = ch.DSN(), db
	cfg.Adapters = AdaptersConfig{NginxRTMP: SecretRef{ID: "rtmp", Env: "RONDA_TEST_RTMP"}, HostParam: "host"}
	cfg.Enforcement = enforce.Config{DenyPublish: true}
	cfg.Enforcement.PayoutHold.URL = psrv.URL
	off := false
	cfg.Cases.Enabled = &off // levers without cases: the lead's request stands as sent (cases_test.go has them together)
	r := startService(t, cfg)

	api := func(token, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	deny := `{"kind":"deny_publish","case_id":"case-42","reason":"ring of case-42","for":"24h",
		"entities":[{"kind":"host","id":"host-denied"}]}`
	for _, tok := range []string{tokViewer, tokModA} {
		if code, _ := api(tok, "POST", "/v1/levers", deny); code != http.StatusForbidden {
			t.Fatalf("approve by a non-lead: %d, want 403", code)
		}
	}
	if code, _ := api("not-a-token", "POST", "/v1/levers", deny); code != http.StatusUnauthorized {
		t.Fatalf("approve without a valid token: %d, want 401", code)
	}
	if code, v := api(tokLead, "POST", "/v1/levers", `{"kind":"deny_publish","case_id":"c","reason":"r","entities":[{"kind":"account","id":"a"}]}`); code != http.StatusBadRequest {
		t.Fatalf("a deny lever on an account: %d %v, want 400", code, v)
	}
	code, lever := api(tokLead, "POST", "/v1/levers", deny)
	if code != http.StatusCreated || lever["approved_by"] != "lead" {
		t.Fatalf("approve by the lead: %d %v", code, lever)
	}
	code, hold := api(tokLead, "POST", "/v1/levers", `{"kind":"payout_hold","case_id":"case-42","reason":"beneficiary of case-42",
		"entities":[{"kind":"account","id":"acct-operator"}]}`)
	if code != http.StatusCreated {
		t.Fatalf("payout hold: %d %v", code, hold)
	}
	waitFor(t, 20*time.Second, "the payout hold at the platform", func() bool { return platform.count() == 1 })

	hook := "http://" + r.addr + "/hooks/nginx-rtmp?secret=rtmp-secret-0123456789"
	rtmp := nginxtest.Start(t, nginxtest.Options{RTMPConf: fmt.Sprintf("on_publish %s;\non_publish_done %s;", hook, hook)})
	if err := nginxtest.Publish(t, rtmp, "studio-a?host=host-denied", 2).Err(t); err == nil {
		t.Fatal("nginx-rtmp let a host under a deny_publish lever publish")
	}
	if err := nginxtest.Publish(t, rtmp, "studio-b?host=host-free", 2).Err(t); err != nil {
		t.Fatalf("a host under no lever was refused: %v", err)
	}
	waitFor(t, 30*time.Second, "the levers' audit in ClickHouse", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT action, moderator FROM %s.actions FINAL WHERE action LIKE 'lever%%' OR action LIKE 'payout%%' ORDER BY action", db))
		return err == nil && strings.TrimSpace(out) == "lever_approve\tlead\nlever_approve\tlead\npayout_hold_delivered\tronda"
	})
	waitFor(t, 30*time.Second, "the refused attempt in the record", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT count() FROM %s.events FINAL WHERE stream_id = 'live/studio-a'", db))
		return err == nil && strings.TrimSpace(out) == "2"
	})

	// A restart keeps the levers, and the hold is not sent again.
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	r = startService(t, cfg)
	code, list := api(tokViewer, "GET", "/v1/levers", "")
	if code != http.StatusOK || len(list["levers"].([]any)) != 2 {
		t.Fatalf("levers after a restart: %d %v", code, list)
	}
	if _, deny := r.svc.levers.DenyPublish("host-denied", ""); !deny {
		t.Fatal("the deny lever did not survive the restart")
	}
	id := lever["id"].(string)
	if code, v := api(tokLead, "POST", "/v1/levers/"+id+"/lift", `{"reason":"case closed"}`); code != http.StatusOK || v["lifted_by"] != "lead" {
		t.Fatalf("lift: %d %v", code, v)
	}
	if _, deny := r.svc.levers.DenyPublish("host-denied", ""); deny {
		t.Fatal("a lifted lever still denies")
	}
	if platform.count() != 1 || platform.bad != 0 {
		t.Fatalf("platform kept %d callbacks with %d bad signatures, want the one hold", platform.count(), platform.bad)
	}
}

// TestEdgeFollowsHubLevers: a lead approves a deny_publish lever at the hub;
// the edge, where the admission hooks run, reads it and refuses that host's
// nginx-rtmp publish; with the hub gone, a restarted edge still refuses it
// from its own state file, and an unrelated host still passes.
func TestEdgeFollowsHubLevers(t *testing.T) {
	testEnv["RONDA_TEST_RTMP"] = "rtmp-secret-0123456789"
	testEnv[leversTokenEnv] = tokViewer
	defer delete(testEnv, leversTokenEnv)
	hubCfg := baseConfig(t)
	hubCfg.Role = RoleHub
	hubCfg.Enforcement = enforce.Config{DenyPublish: true}
	hub := startService(t, hubCfg)
	edgeCfg := edgeConfig(t, "edge-1", hub.addr)
	edgeCfg.Adapters = AdaptersConfig{NginxRTMP: SecretRef{ID: "rtmp", Env: "RONDA_TEST_RTMP"}, HostParam: "host"}
	edgeCfg.Enforcement = enforce.Config{DenyPublish: true, FollowEvery: 50 * time.Millisecond}
	edge := startService(t, edgeCfg)

	req, _ := http.NewRequest("POST", "http://"+hub.addr+"/v1/levers", strings.NewReader(
		`{"kind":"deny_publish","case_id":"case-9","reason":"ring","entities":[{"kind":"host","id":"host-denied"}]}`))
	req.Header.Set("Authorization", "Bearer "+tokLead)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("approve at the hub: %d", resp.StatusCode)
	}
	publish := func(r *running, host string) int {
		t.Helper()
		form := "call=publish&app=live&name=studio&clientid=7&addr=192.0.2.10&host=" + host
		resp, err := http.Post("http://"+r.addr+"/hooks/nginx-rtmp?secret=rtmp-secret-0123456789",
			"application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, 10*time.Second, "the edge refusing the host under the hub's lever", func() bool {
		return publish(edge, "host-denied") == http.StatusForbidden
	})
	if code := publish(edge, "host-free"); code != http.StatusOK {
		t.Fatalf("another host: %d, want 200", code)
	}
	if err := hub.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := edge.stop(t); err != nil {
		t.Fatal(err)
	}
	edge = startService(t, edgeCfg)
	if code := publish(edge, "host-denied"); code != http.StatusForbidden {
		t.Fatalf("a restarted edge with the hub away: %d, want 403 from its own state", code)
	}
	if n := metricSum(t, edge.svc.reg, "ronda_levers_follow_total", "result", "error"); n == 0 {
		t.Error("the failed reads of an absent hub were not counted")
	}
}
