package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/enforce"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/outbound"
)

const reportSecret = "report-secret-0123456789abcdef"

// receiver is a hotline's report API on a local port: it checks each
// request's signature, answers 503 to the first failFirst requests, and keeps
// how many times each idempotency key was taken.
type receiver struct {
	t         *testing.T
	failFirst int

	mu       sync.Mutex
	requests int
	taken    map[string]int
	bodies   map[string][]byte
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	ts := r.Header.Get("X-Ronda-Timestamp")
	if want := outbound.Sign([]byte(reportSecret), ts, body); !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Ronda-Signature"))) || ts == "" {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.requests <= rc.failFirst {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	rc.taken[key]++
	rc.bodies[key] = body
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"receipt":"CT-%d"}`, len(rc.taken))
}

func (rc *receiver) counts() (requests int, taken map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := map[string]int{}
	for k, v := range rc.taken {
		m[k] = v
	}
	return rc.requests, m
}

// api sends one request to the cases API with a token and records it.
func api(t *testing.T, base, method, path, token string, body []byte) exchange {
	t.Helper()
	ctype := ""
	if body != nil {
		ctype = "application/json"
	}
	req := newRequest(t, method, base+path, ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, method+" "+path+" as "+token, req, body)
}

// TestCaseFromEscalationToReport: a lead escalates a ring's alert over the
// moderators' socket, which opens a case in ClickHouse; moderators read it
// (JSON and page), note it; a lead approves it and submits it. The report
// route is a real HTTP receiver that checks the signature and fails the
// first two attempts (503): the case gets there through the retries and the
// breaker, once. Submitting again, and again after a restart of the
// service, sends nothing (the outcome is in ClickHouse). The file and email
// routes get one file each. Every exchange validates against docs/openapi.yaml.
// The printable page is printed to PDF by headless Chromium and read back
// with pdftotext.
func TestCaseFromEscalationToReport(t *testing.T) {
	ch := clickhouse(t)
	rc := &receiver{t: t, failFirst: 2, taken: map[string]int{}, bodies: map[string][]byte{}}
	hotline := httptest.NewServer(rc)
	defer hotline.Close()
	testEnv["RONDA_TEST_REPORT"] = reportSecret
	drop, outbox := t.TempDir(), t.TempDir()

	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	cfg.Cases = CasesConfig{Backoff: 20 * time.Millisecond, BreakerFailures: 2, BreakerOpen: 500 * time.Millisecond, Attempts: 12,
		Routes: []ReportRoute{
			{Name: "cybertip", Kind: "http", URL: hotline.URL, Secret: SecretRef{Env: "RONDA_TEST_REPORT"}},
			{Name: "drop", Kind: "file", Dir: drop},
			{Name: "aduan", Kind: "email", Dir: outbox, To: "aduan@hotline.example", From: "ronda@platform.example"},
		}}
	cfg.Enforcement.DenyPublish = true
	r := startService(t, cfg)
	base := "http://" + r.addr
	lead := dialModerator(t, r.addr, tokLead)
	evs, _ := world(t, 7, 30, 8, 1) // eight days: a ring's weekly payouts fall in it
	for i := 0; i < len(evs); i += 2000 {
		postOK(t, r.addr, ndjson(t, evs[i:min(i+2000, len(evs))]))
	}
	caughtUp(t, r, lead)
	alert := decodeAlert(lead.find(20*time.Second, "a ring's alert", alertMsg(analyzer.SeverityMedium, "")))
	// The schema is made in the background at start; an escalation before the
	// case tables exist is refused (the case cannot be written), which is not
	// what this test is about.
	waitFor(t, 30*time.Second, "the case tables", func() bool {
		out, err := ch.Client("EXISTS TABLE " + cfg.ClickHouse.Database + ".case_submissions")
		return err == nil && strings.TrimSpace(out) == "1"
	})
	if got := lead.act(t, "esc", map[string]any{"alert_id": alert.ID, "action": hub.ActEscalate,
		"note": "three hosts on one phone at night; payouts to one account"}); got["type"] != "ack" {
		t.Fatalf("escalate: %v", got)
	}
	if err := r.svc.writer.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := cases.ID(alert.ID)
	var xs []exchange
	keep := func(x exchange, want int) exchange {
		t.Helper()
		if x.status != want {
			t.Fatalf("%s: %d %s, want %d", x.name, x.status, x.body, want)
		}
		xs = append(xs, x)
		return x
	}

	// Reading: any token; nothing without one.
	keep(api(t, base, "GET", cases.Path, "", nil), 401)
	list := keep(api(t, base, "GET", cases.Path, tokViewer, nil), 200)
	if !bytes.Contains(list.body, []byte(id)) {
		t.Fatalf("the list does not name case %s: %s", id, list.body)
	}
	keep(api(t, base, "GET", cases.Path+"case-00000000000000000000", tokViewer, nil), 404)
	var c cases.Case
	if err := json.Unmarshal(keep(api(t, base, "GET", cases.Path+id, tokViewer, nil), 200).body, &c); err != nil {
		t.Fatal(err)
	}
	if c.AlertID != alert.ID || c.OpenedBy != "lead" || len(c.Versions) == 0 || len(c.Reasons) == 0 {
		t.Fatalf("case %+v does not hold the escalated alert", c)
	}
	if len(c.Accounts) == 0 || len(c.Streams) == 0 || len(c.Networks) == 0 || len(c.Devices) == 0 {
		t.Errorf("case file without the ring's facts: %d accounts, %d streams, %d networks, %d devices",
			len(c.Accounts), len(c.Streams), len(c.Networks), len(c.Devices))
	}
	if len(c.Payouts) == 0 || len(c.Recruitment) == 0 {
		t.Errorf("case file without payouts (%d) or recruitment cues (%d)", len(c.Payouts), len(c.Recruitment))
	}

	// A lever under the case: one naming no entity takes the case's hosts
	// and devices; a host outside the case, or a case that does not exist,
	// is refused.
	keep(api(t, base, "POST", "/v1/levers", tokLead, []byte(`{"kind":"deny_publish","case_id":"case-nope","reason":"r"}`)), 404)
	keep(api(t, base, "POST", "/v1/levers", tokLead,
		[]byte(`{"kind":"deny_publish","case_id":"`+id+`","reason":"r","entities":[{"kind":"host","id":"host-not-in-the-case"}]}`)), 400)
	var lv enforce.Lever
	json.Unmarshal(keep(api(t, base, "POST", "/v1/levers", tokLead,
		[]byte(`{"kind":"deny_publish","case_id":"`+id+`","reason":"the ring of this case"}`)), 201).body, &lv)
	hosts := 0
	for _, e := range c.Entities {
		if e.Kind == analyzer.KindHost {
			hosts++
			if _, deny := r.svc.levers.DenyPublish(e.ID, ""); !deny {
				t.Errorf("host %s of the case is not under the lever %+v", e.ID, lv)
			}
		}
	}
	if hosts == 0 || lv.AlertID != alert.ID || len(lv.Entities) < hosts {
		t.Errorf("lever %+v: want the case's %d hosts and its alert", lv, hosts)
	}
	for _, p := range c.Payouts {
		if p.To == "" || p.Amount == 0 && p.Coins == 0 {
			t.Errorf("payout %+v without its account or amount", p)
		}
	}
	if len(c.Streams) > 0 && c.Streams[0].StartLocal == "" {
		t.Errorf("stream %+v without the host's local time", c.Streams[0])
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0].Text, "one phone") {
		t.Errorf("notes %+v, want the escalation's", c.Notes)
	}

	// Notes: moderators and leads; a viewer may not; a bad body is refused.
	keep(api(t, base, "POST", cases.Path+id+"/notes", tokViewer, []byte(`{"note":"x"}`)), 403)
	if x := api(t, base, "POST", cases.Path+id+"/notes", tokModA, []byte(`{"note":"x","extra":1}`)); x.status != 400 {
		t.Fatalf("a note with an unknown member: %d %s, want 400", x.status, x.body) // the spec refuses the request itself
	}
	keep(api(t, base, "POST", cases.Path+id+"/notes", tokModA, []byte(`{"note":"payout account matches an earlier ring"}`)), 200)

	// Nothing is sent before a lead approves; a moderator cannot approve.
	keep(api(t, base, "POST", cases.Path+id+"/submit", tokLead, nil), 409)
	keep(api(t, base, "POST", cases.Path+id+"/approve", tokModA, []byte(`{}`)), 403)
	var approved cases.Case
	json.Unmarshal(keep(api(t, base, "POST", cases.Path+id+"/approve", tokLead, []byte(`{}`)), 200).body, &approved)
	if approved.Status != cases.StatusApproved || approved.Approval == nil || approved.Approval.By != "lead" {
		t.Fatalf("after approval: status %q, approval %+v", approved.Status, approved.Approval)
	}
	key := cases.Key(id, approved.Version)
	// Approved, the case is still a lead's to send: not a moderator's.
	keep(api(t, base, "POST", cases.Path+id+"/submit", tokModA, nil), 403)

	var sub struct{ Outcomes []cases.Outcome }
	json.Unmarshal(keep(api(t, base, "POST", cases.Path+id+"/submit", tokLead, nil), 200).body, &sub)
	got := map[string]cases.Outcome{}
	for _, o := range sub.Outcomes {
		got[o.Route] = o
	}
	if o := got["cybertip"]; o.Result != cases.ResultDelivered || o.Attempts < 3 || o.Receipt != "CT-1" {
		t.Errorf("http route: %+v, want delivered after the two 503s, receipt CT-1", o)
	}
	for _, name := range []string{"drop", "aduan"} {
		if o := got[name]; o.Result != cases.ResultDelivered || o.Attempts != 1 {
			t.Errorf("%s route: %+v, want delivered at once", name, o)
		}
	}
	requests, taken := rc.counts()
	if requests != 3 || len(taken) != 1 || taken[key] != 1 || rc.badSig != 0 {
		t.Fatalf("receiver: %d requests, taken %v, %d bad signatures; want 3 requests (2 refused), %s once", requests, taken, rc.badSig, key)
	}
	var sent cases.Case
	if err := json.Unmarshal(rc.bodies[key], &sent); err != nil || sent.ID != id || sent.Version != approved.Version {
		t.Errorf("receiver got %.200s (%v)", rc.bodies[key], err)
	}
	if bytes.Contains(rc.bodies[key], []byte(`"text":"`)) && !bytes.Contains(rc.bodies[key], []byte("one phone")) {
		t.Errorf("the body carries text that is not a note")
	}
	if n := metricSum(t, r.svc.reg, "ronda_cases_submissions_total", "result", cases.ResultBreakerOpen); n < 1 {
		t.Errorf("%v attempts met an open breaker, want at least 1 (2 failures open it for 500ms)", n)
	}
	if n := metricSum(t, r.svc.reg, "ronda_cases_submissions_total", "result", cases.ResultFailed); n != 2 {
		t.Errorf("%v failed attempts counted, want 2", n)
	}
	if b, err := os.ReadFile(filepath.Join(drop, key+".json")); err != nil || !bytes.Contains(b, []byte(id)) {
		t.Errorf("file route: %v %.100s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(outbox, key+".eml")); err != nil ||
		!bytes.Contains(b, []byte("To: aduan@hotline.example")) || !bytes.Contains(b, []byte(key+".json")) {
		t.Errorf("email route: %v %.300s", err, b)
	}
	entries, _ := os.ReadDir(drop)
	if len(entries) != 1 {
		t.Errorf("drop holds %d files, want 1 (no temporary left)", len(entries))
	}

	// Again: nothing sent.
	json.Unmarshal(keep(api(t, base, "POST", cases.Path+id+"/submit", tokLead, nil), 200).body, &sub)
	for _, o := range sub.Outcomes {
		if o.Result != cases.ResultAlready {
			t.Errorf("second submit: %+v, want already", o)
		}
	}
	var after cases.Case
	json.Unmarshal(keep(api(t, base, "GET", cases.Path+id, tokViewer, nil), 200).body, &after)
	submittedX := xs[len(xs)-1] // the submitted case's answer, for the drift check below
	if after.Status != cases.StatusSubmitted {
		t.Errorf("status %q after delivery everywhere, want submitted", after.Status)
	}

	page := keep(api(t, base, "GET", cases.Path+id+"/page", tokViewer, nil), 200)
	csp := page.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") || bytes.Contains(page.body, []byte("<script")) {
		t.Errorf("page CSP %q / a script in the page", csp)
	}
	printPage(t, base+cases.Path+id+"/page", c, id)

	// A one-time print link opens the page without a token, once.
	var link struct{ URL string }
	json.Unmarshal(keep(api(t, base, "POST", cases.Path+id+"/print", tokViewer, nil), 200).body, &link)
	if byLink := keep(api(t, base, "GET", link.URL, "", nil), 200); !bytes.Contains(byLink.body, []byte(id)) ||
		byLink.header.Get("Content-Security-Policy") != csp {
		t.Errorf("the page by its print link: %.200s, CSP %q", byLink.body, byLink.header.Get("Content-Security-Policy"))
	}
	keep(api(t, base, "GET", link.URL, "", nil), 403)
	// No link for a case that does not exist; one viewer may hold
	// MaxPrintLinksPerUser open, then 429, and another still gets one.
	keep(api(t, base, "POST", cases.Path+"case-00000000000000000000/print", tokViewer, nil), 404)
	for range cases.MaxPrintLinksPerUser {
		keep(api(t, base, "POST", cases.Path+id+"/print", tokViewer, nil), 200)
	}
	if x := keep(api(t, base, "POST", cases.Path+id+"/print", tokViewer, nil), 429); x.header.Get("Retry-After") == "" {
		t.Errorf("429 for print links without Retry-After")
	}
	keep(api(t, base, "POST", cases.Path+id+"/print", tokLead, nil), 200)
	if n := metricSum(t, r.svc.reg, "ronda_cases_print_links_total", "result", "user_full"); n != 1 {
		t.Errorf("%v print links refused over one viewer's bound, want 1", n)
	}

	doc := loadSpec(t, specPath)
	for _, x := range xs {
		if err := validate(doc, x); err != nil {
			t.Errorf("%s: %v", x.name, err)
		}
	}

	// Drift: the spec with a case status left out no longer passes the
	// submitted case's answer.
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("status: {type: string, enum: [open, approved, submitted]}")
	if !bytes.Contains(spec, old) {
		t.Fatalf("drift case: %s not in the spec", old)
	}
	drifted := filepath.Join(t.TempDir(), "openapi.yaml")
	os.WriteFile(drifted, bytes.Replace(spec, old, []byte("status: {type: string, enum: [open, approved]}"), 1), 0o600)
	if err := validate(loadSpec(t, drifted), submittedX); err == nil {
		t.Errorf("%s validated against a spec without the submitted status", submittedX.name)
	}

	// A restart: the same record, a new process. Still nothing sent twice.
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	r2 := startService(t, cfg)
	x := api(t, "http://"+r2.addr, "POST", cases.Path+id+"/submit", tokLead, nil)
	if x.status != 200 {
		t.Fatalf("submit after restart: %d %s", x.status, x.body)
	}
	json.Unmarshal(x.body, &sub)
	for _, o := range sub.Outcomes {
		if o.Result != cases.ResultAlready {
			t.Errorf("submit after restart: %+v, want already", o)
		}
	}
	if requests, taken := rc.counts(); requests != 3 || taken[key] != 1 {
		t.Errorf("after the restart the receiver had %d requests, %s taken %d times; want 3 and once", requests, key, taken[key])
	}
	// The same escalation carried out again (a replay, a second press after
	// the alert reopened) names the same case and opens none.
	if err := r2.svc.cases.Open(context.Background(), alert, "lead", "three hosts on one phone at night; payouts to one account"); err != nil {
		t.Fatal(err)
	}
	list = api(t, "http://"+r2.addr, "GET", cases.Path, tokViewer, nil)
	if n := bytes.Count(list.body, []byte(`"id":`)); n != 1 || metricSum(t, r2.svc.reg, "ronda_cases_opened_total") != 0 {
		t.Errorf("after the escalation again: %d cases listed, %v opened; want 1 and 0: %s", n,
			metricSum(t, r2.svc.reg, "ronda_cases_opened_total"), list.body)
	}
}

// printPage prints the case page in headless Chromium (the token as a
// header, as a console would send it) to PDF and checks its text with
// pdftotext: the case, a host, a stream's local time, the notes. The PDF is
// kept in the test's directory, or at $RONDA_CASE_PDF.
func printPage(t *testing.T, url string, c cases.Case, id string) {
	t.Helper()
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext not found (CI=true): apt-get install -y poppler-utils")
		}
		t.Log("pdftotext not found; apt-get install -y poppler-utils to check the printed case")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab := newBrowser(t, ctx)
	errs := watchConsole(tab)
	if _, err := chromedp.Run(tab, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + tokViewer}})
	}); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Navigate(url))
	waitJS(t, tab, "the case page", `document.querySelector("h1") && document.querySelector("h1").textContent.includes(`+jsString(id)+`)`)
	if got := evalJS[string](t, tab, `getComputedStyle(document.querySelector("th")).backgroundColor`); got != "rgb(238, 238, 238)" {
		t.Errorf("the page's style did not apply (th background %q): the CSP hash does not match the style?", got)
	}
	pdf, err := chromedp.Run(tab, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("RONDA_CASE_PDF")
	if out == "" {
		out = filepath.Join(t.TempDir(), id+".pdf")
	}
	if err := os.WriteFile(out, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("case printed to %s (%d bytes)", out, len(pdf))
	text, err := exec.Command(pdftotext, "-layout", out, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	want := []string{"Ronda case " + id, "Reported accounts", "Network prefixes", "Payouts", "Recruitment cues",
		"Moderators' notes", "one phone", "payout account matches", "UTC", c.Accounts[0].ID, c.Streams[0].ID}
	if len(c.Payouts) > 0 {
		want = append(want, c.Payouts[0].To)
	}
	if loc := c.Streams[0].StartLocal; loc != "" {
		want = append(want, loc[len(loc)-3:]) // the zone's abbreviation
	}
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, w := range want {
		if !strings.Contains(flat, w) {
			t.Errorf("the printed case lacks %q", w)
		}
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("the page reported: %v", e)
	}
}
