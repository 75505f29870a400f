package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/simulate"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// The console's browser tests share these steps: a service with its record
// in a fresh ClickHouse database, a ring's world played in until the ring's
// alert is raised, and a lead who signs in, finds that alert, claims it and
// escalates it with the keyboard alone.

// recordConfig is baseConfig with the record in a fresh database of ch.
func recordConfig(t testing.TB, ch *chtest.Server) Config {
	t.Helper()
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	return cfg
}

// playRing plays smallWorld (seed 3) into the service in batches of 2,000
// events and returns the ring's alert, as a viewer's websocket is sent it,
// with the world's labels.
func playRing(t *testing.T, r *running) (analyzer.Alert, simulate.Labels) {
	t.Helper()
	watch := dialModerator(t, r.addr, tokViewer)
	watch.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	evs, labels := smallWorld(t, 3)
	for i := 0; i < len(evs); i += 2000 {
		postOK(t, r.addr, ndjson(t, evs[i:min(i+2000, len(evs))]))
	}
	ring := decodeAlert(watch.find(30*time.Second, "the ring's alert", alertMsg(analyzer.SeverityMedium, labels.PositiveHosts[0])))
	return ring, labels
}

// signIn opens the console in tab and signs in with token by keyboard: the
// sign-in form has the focus, the token is typed and Enter pressed.
func signIn(t *testing.T, tab context.Context, console, token string) {
	t.Helper()
	do(t, tab, chromedp.Navigate(console))
	waitJS(t, tab, "the sign-in form with the focus", `document.activeElement && document.activeElement.id === "login-token"`)
	do(t, tab, chromedp.KeyEvent(token+"\r"))
}

// searchAlert waits for the connected console to list alert id, then finds
// it by keyboard: / to the search, the id and Enter, which opens the alert
// and leaves the focus on its row.
func searchAlert(t *testing.T, tab context.Context, id string) {
	t.Helper()
	waitJS(t, tab, "the ring's alert in the queue", fmt.Sprintf(`document.getElementById("conn").dataset.state === "connected" &&
		!!document.querySelector(%s)`, jsString(queueRow(id))))
	press(t, tab, "/")
	waitJS(t, tab, "the search focused", `document.activeElement.id === "f-search"`)
	do(t, tab, chromedp.KeyEvent(id+"\r"))
	waitJS(t, tab, "the alert open", fmt.Sprintf(`document.getElementById("d-meta").textContent.includes(%s) &&
		document.activeElement === document.querySelector(%s)`, jsString(id), jsString(queueRow(id))))
}

// claimEscalate claims the open alert with c as the lead, escalates it with
// e, types note in the focused escalation field and sends it with
// Ctrl+Enter.
func claimEscalate(t *testing.T, tab context.Context, note string) {
	t.Helper()
	press(t, tab, "c")
	waitJS(t, tab, "the alert claimed", `document.getElementById("d-state").dataset.claimedBy === "lead"`)
	press(t, tab, "e")
	waitJS(t, tab, "the escalation note focused", `document.activeElement.id === "in-escalate"`)
	do(t, tab, chromedp.KeyEvent(note))
	do(t, tab, chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
}

// artefactDir is where a browser test keeps its screenshots:
// $RONDA_CONSOLE_SCREENSHOT_DIR, else the test's temporary directory.
func artefactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RONDA_CONSOLE_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// keepArtefact writes data (a screenshot, a printed PDF) to dir/name.
func keepArtefact(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sectionShot keeps a PNG of the tab's viewport with the element that
// selector finds scrolled into view at block ("start", "center"): the
// detail pane scrolls on its own, so a full-page screenshot shows only its
// top.
func sectionShot(t *testing.T, tab context.Context, dir, name, selector, block string) {
	t.Helper()
	evalJS[bool](t, tab, fmt.Sprintf(`(document.querySelector(%s).scrollIntoView({block: %s}), true)`, jsString(selector), jsString(block)))
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	keepArtefact(t, dir, name, png)
}

// tickBox moves the focus with Tab to the checkbox id and ticks it with
// Space.
func tickBox(t *testing.T, tab context.Context, id, what string) {
	t.Helper()
	tabTo(t, tab, id)
	press(t, tab, " ")
	waitJS(t, tab, what+" ticked", fmt.Sprintf(`document.getElementById(%s).checked`, jsString(id)))
}

// approveLever types reason in the lever form's reason field and presses
// Enter; the lever of kind is then active, approved by the lead, with the
// focus on its lift field. It returns the lever's id.
func approveLever(t *testing.T, tab context.Context, kind, reason, what string) string {
	t.Helper()
	tabTo(t, tab, "in-lever-reason")
	do(t, tab, chromedp.KeyEvent(reason+"\r"))
	waitJS(t, tab, what+" active, the focus on its lift field", fmt.Sprintf(`(() => {
		const li = document.querySelector("#d-lever-list li[data-kind=%[1]s][data-state=active]");
		return !!li && document.activeElement && document.activeElement.id === "in-lift-" + li.dataset.leverId &&
			li.textContent.includes("approved by lead");
	})()`, kind))
	return evalJS[string](t, tab, fmt.Sprintf(`document.querySelector("#d-lever-list li[data-kind=%s]").dataset.leverId`, kind))
}
