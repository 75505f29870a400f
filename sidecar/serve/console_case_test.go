package serve

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/hub"
)

// TestConsoleCase: once an alert is escalated, the lead's console (a real
// headless Chromium, real ClickHouse) shows its case file read from the cases
// API: the case id, its status, its entities and the escalation's note; a
// note added by keyboard in the panel's form shows there. The screen is saved
// as case-panel.png in $RONDA_CONSOLE_SCREENSHOT_DIR (else a temporary directory).
//
// Approving, submitting and printing from the console, and a second
// console following the case live, are TestConsoleReport's.
func TestConsoleCase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and ClickHouse")
	}
	ch := clickhouse(t)
	cfg := recordConfig(t, ch)
	cfg.Cases = CasesConfig{Backoff: 20 * time.Millisecond, BreakerFailures: 2, BreakerOpen: 500 * time.Millisecond, Attempts: 3}
	r := startService(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	lead := dialModerator(t, r.addr, tokLead)
	lead.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	host := fmt.Sprintf("case-host-%d", time.Now().UnixNano())
	alert := raiseAlert(t, r.addr, lead, host)
	waitFor(t, 30*time.Second, "the case tables", func() bool {
		out, err := ch.Client("EXISTS TABLE " + cfg.ClickHouse.Database + ".case_submissions")
		return err == nil && strings.TrimSpace(out) == "1"
	})
	const why = "three hosts on one phone at night"
	if got := lead.act(t, "esc", map[string]any{"alert_id": alert.ID, "action": hub.ActEscalate, "note": why}); got["type"] != "ack" {
		t.Fatalf("escalate: %v", got)
	}

	tab := newBrowser(t, ctx)
	errs := watchConsole(tab)
	do(t, tab, chromedp.Navigate("http://"+r.addr+ConsolePath+"#token="+tokLead+"&alert="+alert.ID))
	id := cases.ID(alert.ID)
	waitJS(t, tab, "the case id in the case panel", fmt.Sprintf(
		`(document.getElementById("d-case-id") || {}).textContent === %s`, jsString(id)))
	if got := evalJS[string](t, tab, `document.getElementById("d-case-status").textContent`); got == "" {
		t.Error("the case panel shows no status")
	}
	if got := evalJS[string](t, tab, `document.getElementById("d-case-entities").textContent`); !strings.Contains(got, host) {
		t.Errorf("the case's entities %q do not name the host %s", got, host)
	}
	waitJS(t, tab, "the escalation's note in the case notes", fmt.Sprintf(
		`document.getElementById("d-case-notes").textContent.includes(%s)`, jsString(why)))

	// A case note typed and sent by keyboard alone shows in the panel.
	const later = "payouts to one account"
	evalJS[bool](t, tab, `(document.getElementById("in-case-note").focus(), true)`)
	do(t, tab, chromedp.KeyEvent(later+"\r"))
	waitJS(t, tab, "the case note in the case notes", fmt.Sprintf(
		`document.getElementById("d-case-notes").textContent.includes(%s)`, jsString(later)))
	shots := os.Getenv("RONDA_CONSOLE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot(t, tab, shots, "case-panel.png")
	if e := errs(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}
