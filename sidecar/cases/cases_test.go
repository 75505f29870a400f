package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/outbound"
	"github.com/ronda-watch/ronda/sidecar/store"
)

func TestIDIsStableAndDistinct(t *testing.T) {
	if ID("al-1") != ID("al-1") || ID("al-1") == ID("al-2") || !idRe.MatchString(ID("al-1")) {
		t.Fatalf("ids %s %s", ID("al-1"), ID("al-2"))
	}
	if Key(ID("al-1"), 3) != ID("al-1")+"-v3" {
		t.Fatal(Key(ID("al-1"), 3))
	}
}

// TestPageStyleHashMatchesCSP: the page's one inline style is exactly what
// the CSP's hash allows, the page has no script, escapes what moderators
// wrote, and says what it leaves out.
func TestPageStyleHashMatchesCSP(t *testing.T) {
	r, err := newRenderer()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{ID: ID("al-1"), AlertID: "al-1", Version: 2, Status: StatusOpen, OpenedAt: time.Unix(1.7e9, 0),
		Notes:   []Note{{At: time.Unix(1.7e9, 0), By: "mod-a", Text: `<script>alert(1)</script>`}},
		Reasons: []analyzer.Reason{{Detector: "money", Score: 0.8, Summary: "paid out to one account", Evidence: map[string]any{"coins": 12022.0, "payers": 2.0}}},
		Streams: []Stream{{ID: "s1", Host: "h1", Start: time.Unix(1.7e9, 0), TZ: "Asia/Manila", StartLocal: local(time.Unix(1.7e9, 0), "Asia/Manila")}}}
	b, err := r.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256(m[1])
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(r.CSP(), want) {
		t.Errorf("CSP %q does not allow the page's style (%s)", r.CSP(), want)
	}
	if bytes.Contains(b, []byte("<script")) {
		t.Error("a script tag in the page (a note not escaped?)")
	}
	for _, want := range []string{"coins=12022 · payers=2", "2023-11-14 22:13:20 UTC", "2023-11-15 06:13:20 PST", "no media"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHTTPRouteSignsAndClassifies(t *testing.T) {
	var got http.Header
	var body []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
		w.WriteHeader(status)
		w.Write([]byte(`{"receipt":"R-9"}`))
	}))
	defer srv.Close()
	rt := &HTTPRoute{RouteName: "x", URL: srv.URL, Secret: []byte("0123456789abcdef"), Now: func() time.Time { return time.Unix(1700000000, 0) }}
	d := Delivery{Key: "case-x-v1", Body: []byte(`{"id":"case-x"}`)}
	rc, err := rt.Send(context.Background(), d)
	if err != nil || rc != "R-9" {
		t.Fatalf("send: %q %v", rc, err)
	}
	if got.Get("Idempotency-Key") != d.Key || got.Get("X-Ronda-Signature") != outbound.Sign(rt.Secret, "1700000000", body) || !bytes.Equal(body, d.Body) {
		t.Fatalf("headers %v body %s", got, body)
	}
	for _, c := range []struct {
		status int
		perm   bool
	}{{503, false}, {429, false}, {408, false}, {400, true}, {401, true}, {409, true}} {
		status = c.status
		_, err := rt.Send(context.Background(), d)
		var p *PermanentError
		if err == nil || errors.As(err, &p) != c.perm {
			t.Errorf("%d: %v, want permanent %v", c.status, err, c.perm)
		}
	}
}

func TestFileRoutesWriteOnce(t *testing.T) {
	dir := t.TempDir()
	c := &Case{ID: "case-x", Version: 1, Severity: "high", Approval: &Approval{By: "lead"},
		Reasons: []analyzer.Reason{{Summary: "three hosts on one phone"}}}
	d := Delivery{Key: "case-x-v1", Case: c, Body: []byte(`{"id":"case-x"}`)}
	f := &FileRoute{RouteName: "drop", Dir: filepath.Join(dir, "drop")}
	e := &EmailRoute{RouteName: "aduan", To: "aduan@hotline.example", From: "ronda@x.example", Outbox: filepath.Join(dir, "out")}
	for i := 0; i < 2; i++ {
		if _, err := f.Send(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Send(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "drop", "case-x-v1.json"))
	if err != nil || string(b) != `{"id":"case-x"}` {
		t.Fatalf("drop: %s %v", b, err)
	}
	m, err := os.ReadFile(filepath.Join(dir, "out", "case-x-v1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"To: aduan@hotline.example\r\n", "Message-ID: <case-x-v1@ronda>", "three hosts on one phone", "Approved by lead", `filename=case-x-v1.json`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	for _, sub := range []string{"drop", "out"} {
		if es, _ := os.ReadDir(filepath.Join(dir, sub)); len(es) != 1 {
			t.Errorf("%s holds %d files, want 1", sub, len(es))
		}
	}
}

// TestBuildReportsFacts: a case built from rows names the host's payouts with
// its local time, the recruiter's posts (kind, never text), and leaves out
// another account's messages to the host and the audit copies of case actions.
func TestBuildReportsFacts(t *testing.T) {
	at := time.Date(2025, 3, 1, 14, 0, 0, 0, time.UTC)
	av := `{"id":"al-1","at":"2025-03-01T14:00:00Z","severity":"high","score":0.9,"subject":{"kind":"host","id":"h1"},"entities":[{"kind":"host","id":"h1"},{"kind":"account","id":"rec"},{"kind":"device","id":"d1"}],"reasons":[],"updates":1}`
	ev := store.Evidence{
		Sessions: []store.SessionRow{{Start: at, End: at.Add(time.Hour), StreamID: "s1", HostID: "h1", TZ: "Asia/Jakarta", DeviceID: "d1", Network: "10.0.0.0/24"}},
		Events: []store.EventRow{
			{At: at.Add(2 * time.Hour), Type: "payout", AccountID: "h1", Counterpart: "op", Coins: 500, Amount: 25, Currency: "IDR"},
			{At: at.Add(-time.Hour), Type: "post", AccountID: "rec", Kind: "dm", Counterpart: "h1"},
			{At: at.Add(-time.Hour), Type: "post", AccountID: "fan", Kind: "dm", Counterpart: "h1"},
		},
		Actions: []store.ActionRow{{At: at, ActionID: "1", AlertID: "al-1", Moderator: "lead", Action: "escalate", Note: "ring"},
			{At: at, ActionID: "2", AlertID: "al-1", Moderator: "lead", Action: "case_approve", Target: "case"}},
	}
	c := build(store.CaseRow{CaseID: "case-1", AlertID: "al-1", Opened: at, OpenedBy: "lead"},
		[]store.CaseVersionRow{{CaseID: "case-1", Updates: 1, Alert: av}},
		[]store.CaseActionRow{{CaseID: "case-1", At: at, ActionID: "escalate-1", Moderator: "lead", Action: "escalate", Note: "ring"},
			{CaseID: "case-1", At: at, ActionID: "n1", Moderator: "mod", Action: "note", Note: "seen before"}}, nil, ev, []string{"x"})
	if len(c.Payouts) != 1 || c.Payouts[0].Local != "2025-03-01 23:00:00 WIB" || c.Payouts[0].To != "op" {
		t.Errorf("payouts %+v", c.Payouts)
	}
	if len(c.Recruitment) != 1 || c.Recruitment[0].Entity != "rec" || c.Recruitment[0].Kind != "post:dm" {
		t.Errorf("recruitment %+v", c.Recruitment)
	}
	if len(c.Notes) != 2 || c.Version != 3 || c.Status != StatusOpen {
		t.Errorf("notes %+v version %d status %s", c.Notes, c.Version, c.Status)
	}
	escalations := 0
	for _, x := range c.Actions {
		if strings.HasPrefix(x.Action, "case_") {
			t.Errorf("audit copy in actions: %+v", x)
		}
		if x.Action == "escalate" {
			escalations++
		}
	}
	if escalations != 1 {
		t.Errorf("%d escalations in actions %+v, want 1 (the hub's row and the case's are one)", escalations, c.Actions)
	}
	if len(c.Devices) != 1 || c.Devices[0].Hosts[0] != "h1" || len(c.Networks) != 1 {
		t.Errorf("devices %+v networks %+v", c.Devices, c.Networks)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
