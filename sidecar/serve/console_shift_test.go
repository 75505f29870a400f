package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/dashboards"
)

// TestConsoleFullShift is a moderator's shift in a real headless Chromium,
// against the real service with a real ClickHouse (chtest) and the real
// websocket: a lead signs in by keyboard, filters the queue by severity and
// searches it by an alert's id, opens a ring's alert and sees its hosts'
// broadcast hours, its gift and payout flows and its cluster drawn from the
// record; claims and escalates it with keys alone, while a second
// moderator's console in another tab sees both live; the SLA timers of
// unclaimed alerts run, and an alert another moderator dismissed is found
// in the history, read from ClickHouse. Screenshots of each step are kept
// in $RONDA_CONSOLE_SCREENSHOT_DIR (else the test's temporary directory).
func TestConsoleFullShift(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and ClickHouse")
	}
	ch := clickhouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cfg := recordConfig(t, ch)
	cfg.Moderators.Escalate = "log"
	cfg.Moderators.SLA = map[string]time.Duration{"critical": time.Second, "high": time.Second, "medium": time.Second, "low": time.Second}
	r := startService(t, cfg)
	console := "http://" + r.addr + ConsolePath
	shots := artefactDir(t)

	// The console is served under its strict policy.
	resp, err := http.Get(console)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); csp != dashboards.ConsoleCSP || strings.Contains(csp, "unsafe") {
		t.Errorf("console served with Content-Security-Policy %q", csp)
	}

	// A ring's world is played in, so that the record holds its sessions,
	// gifts and payouts.
	ring, _ := playRing(t, r)

	// (a) The lead signs in with the keyboard: the token field has the focus.
	lead := newBrowser(t, ctx)
	errsLead := watchConsole(lead)
	signIn(t, lead, console, tokLead)
	waitJS(t, lead, "the lead's console connected", `document.getElementById("conn").dataset.state === "connected" &&
		document.getElementById("who-role").textContent === "lead"`)
	row := queueRow(ring.ID)
	waitJS(t, lead, "the ring's alert in the queue", fmt.Sprintf(`!!document.querySelector(%s)`, jsString(row)))

	// (b) mod-b keeps a console open in a second tab.
	modB, closeB := chromedp.NewContext(lead)
	defer closeB()
	errsB := watchConsole(modB)
	do(t, modB, chromedp.Navigate(console+"#token="+tokModB))
	waitJS(t, modB, "mod-b's console with the ring's alert", fmt.Sprintf(`document.getElementById("conn").dataset.state === "connected" &&
		!!document.querySelector(%s)`, jsString(row)))

	// (c) Unclaimed alerts' SLA timers run (every level is a second here).
	waitJS(t, lead, "an overdue unclaimed alert", `!!document.querySelector("#queue-body td.sla[data-sla=overdue]")`)

	// (d) Filter by severity from the keyboard: f goes to the filters, and
	// the arrow keys pick the alert's severity; only that severity is left.
	sev := evalJS[string](t, lead, fmt.Sprintf(`document.querySelector(%s).dataset.severity`, jsString(row)))
	press(t, lead, "f")
	waitJS(t, lead, "the severity filter focused", `document.activeElement.id === "f-severity"`)
	steps := map[string]int{"critical": 1, "high": 2, "medium": 3, "low": 4}[sev]
	do(t, lead, chromedp.KeyEvent(strings.Repeat(kb.ArrowDown, steps)))
	waitJS(t, lead, "the queue filtered by severity "+sev, fmt.Sprintf(`document.getElementById("f-severity").value === %s &&
		[...document.querySelectorAll("#queue-body tr")].every(tr => tr.dataset.severity === %s) && !!document.querySelector(%s)`,
		jsString(sev), jsString(sev), jsString(row)))
	shot(t, lead, shots, "1-filtered.png")

	// (e) Search by the alert's id: / goes to the search, Enter opens the
	// first match and leaves the keyboard on its row.
	do(t, lead, chromedp.KeyEvent(kb.Escape)) // out of the filter, back to the queue
	press(t, lead, "/")
	waitJS(t, lead, "the search focused", `document.activeElement.id === "f-search"`)
	do(t, lead, chromedp.KeyEvent(ring.ID+"\r"))
	waitJS(t, lead, "the searched alert open, its row focused and the focus visible", fmt.Sprintf(
		`document.querySelectorAll("#queue-body tr").length === 1 && document.activeElement === document.querySelector(%s) &&
		document.getElementById("d-meta").textContent.includes(%s) && document.activeElement.matches(":focus-visible") &&
		getComputedStyle(document.activeElement).outlineStyle !== "none"`, jsString(row), jsString(ring.ID)))

	// (f) The record around it: heatmaps with broadcast minutes, gift and
	// payout bars with coins, the cluster with its entities and links.
	waitJS(t, lead, "a heatmap with broadcast minutes", `[...document.querySelectorAll("#d-heatmap svg.heatmap-svg rect.heat")].some(r => +r.dataset.minutes > 0)`)
	waitJS(t, lead, "gift bars with coins", `[...document.querySelectorAll("#d-flows rect.flow-gift")].some(r => +r.dataset.coins > 0)`)
	waitJS(t, lead, "the cluster drawn with links", `+document.querySelector("#d-graph svg.graph-svg").dataset.links > 0 &&
		document.querySelectorAll("#d-graph g.node").length >= 2`)
	if n, want := evalJS[int](t, lead, `document.querySelectorAll("#d-heatmap svg.heatmap-svg")[0].querySelectorAll("rect.heat").length`), 7*24; n != want {
		t.Errorf("a heatmap has %d cells, want %d", n, want)
	}
	// One node per entity the detail pane names (the same version of the
	// alert: it may have grown since the test first saw it).
	if nodes, chips := evalJS[int](t, lead, `document.querySelectorAll("#d-graph g.node").length`),
		evalJS[int](t, lead, `document.querySelectorAll("#d-who .chip, #d-where .chip").length`); nodes != min(chips, 40) || nodes < distinctEntities(ring) && nodes < 40 {
		t.Errorf("the cluster draws %d nodes; the alert names %d entities (%d at first)", nodes, chips, distinctEntities(ring))
	}
	shot(t, lead, shots, "2-alert-open.png")
	sectionShot(t, lead, shots, "2b-record.png", "section.context", "start")

	// The keys are listed behind ?, in a dialog that Escape closes, giving
	// the focus back.
	press(t, lead, "?")
	waitJS(t, lead, "the shortcuts dialog", `document.getElementById("shortcuts").open && document.activeElement.id === "shortcuts-close"`)
	do(t, lead, chromedp.KeyEvent(kb.Escape))
	waitJS(t, lead, "the dialog closed, the focus back", `!document.getElementById("shortcuts").open && document.activeElement.id === "shortcuts-open"`)
	press(t, lead, "j")
	waitJS(t, lead, "the ring's row focused again", fmt.Sprintf(`document.activeElement === document.querySelector(%s)`, jsString(row)))

	// (g) Claim with c: the claim timer runs, and mod-b's tab shows the claim.
	press(t, lead, "c")
	waitJS(t, lead, "the alert claimed by the lead", `document.getElementById("d-state").dataset.claimedBy === "lead"`)
	waitJS(t, lead, "the claim's expiry counting down", `!document.getElementById("d-claim-timer").hidden &&
		document.getElementById("d-claim-timer").textContent.includes("expires in")`)
	waitJS(t, modB, "the lead's claim in mod-b's queue", fmt.Sprintf(
		`(document.querySelector(%s + " [data-col=status]") || {}).textContent?.includes("claimed by lead")`, jsString(row)))

	// (h) Escalate with e, a note, Ctrl+Enter: the case hook shows, and
	// mod-b sees it escalated.
	press(t, lead, "e")
	waitJS(t, lead, "the escalation note focused", `document.activeElement.id === "in-escalate"`)
	do(t, lead, chromedp.KeyEvent("ring of three hosts on one phone"))
	do(t, lead, chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitJS(t, lead, "the alert escalated with the case hook shown", `document.getElementById("d-state").dataset.status === "escalated" &&
		!document.getElementById("d-case").hidden && document.getElementById("d-case").dataset.caseHook !== ""`)
	waitJS(t, modB, "the escalation in mod-b's queue", fmt.Sprintf(
		`(document.querySelector(%s + " [data-col=status]") || {}).dataset?.status === "escalated"`, jsString(row)))
	shot(t, lead, shots, "3-escalated.png")
	shot(t, modB, shots, "4-second-moderator.png")

	// (i) mod-a dismisses another alert; it leaves the queue, and the lead
	// finds it in the history, read from ClickHouse.
	modA := dialModerator(t, r.addr, tokModA)
	modA.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	other := raiseAlert(t, r.addr, modA, fmt.Sprintf("shift-host-%d", time.Now().UnixNano()))
	modA.send(map[string]any{"type": "action", "request_id": "x1", "alert_id": other.ID, "action": "dismiss", "reason": "a test card"})
	modA.find(5*time.Second, "the dismissal's ack", func(m map[string]any) bool { return m["type"] == "ack" && m["request_id"] == "x1" })
	waitFor(t, 20*time.Second, "the dismissal in the record", func() bool {
		code, b := getJSON(t, r.addr, HistoryPath+"?status=dismissed&q="+url.QueryEscape(other.ID), tokViewer)
		return code == 200 && strings.Contains(string(b), `"dismissed"`)
	})
	do(t, lead, chromedp.KeyEvent("\u001b")) // out of the note, back to the queue
	press(t, lead, "x")                      // filters cleared
	press(t, lead, "h")
	waitJS(t, lead, "the history view", `!document.getElementById("history-view").hidden &&
		document.getElementById("view-history").getAttribute("aria-pressed") === "true"`)
	press(t, lead, "/")
	do(t, lead, chromedp.KeyEvent(other.ID))
	histRow := fmt.Sprintf(`#history-body tr[data-alert-id=%q]`, other.ID)
	waitJS(t, lead, "the dismissed alert alone in the history, searched", fmt.Sprintf(`(document.querySelector(%s) || {}).dataset?.status === "dismissed" &&
		document.querySelectorAll("#history-body tr").length === 1`, jsString(histRow)))
	do(t, lead, chromedp.KeyEvent("\r"))
	waitJS(t, lead, "the dismissed alert open from the record", fmt.Sprintf(`document.getElementById("d-meta").textContent.includes(%s) &&
		document.getElementById("d-gone").textContent.includes("From the record") &&
		document.getElementById("d-timeline").textContent.includes("a test card")`, jsString(other.ID)))
	shot(t, lead, shots, "5-history.png")

	for tab, errs := range map[string]func() []string{"lead": errsLead, "mod-b": errsB} {
		if e := errs(); len(e) > 0 {
			t.Errorf("%s's page reported errors:\n%s", tab, strings.Join(e, "\n"))
		}
	}
	t.Logf("screenshots in %s", shots)
}

// distinctEntities counts an alert's subject and entities once each.
func distinctEntities(a analyzer.Alert) int {
	seen := map[string]bool{a.Subject.Kind + ":" + a.Subject.ID: true}
	for _, e := range a.Entities {
		seen[e.Kind+":"+e.ID] = true
	}
	return len(seen)
}

// shot keeps a PNG of the tab's page in dir.
func shot(t *testing.T, tab context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	keepArtefact(t, dir, name, png)
}

// press types keys as a person does: each a keyDown that carries its text
// and a keyUp, so that a page's keydown handler that takes the key as a
// shortcut (preventDefault) keeps it from being typed, as in a browser under
// a real keyboard. (chromedp.KeyEvent sends the text as a separate char
// event, which types the character even then.)
func press(t *testing.T, tab context.Context, keys string) {
	t.Helper()
	for _, r := range keys {
		var text string
		for _, k := range kb.Encode(r) {
			if k.Type == kb.KeyChar {
				text = k.Text
			}
		}
		for _, k := range kb.Encode(r) {
			switch k.Type {
			case kb.KeyChar:
				continue
			case kb.KeyDown:
				k.Text, k.UnmodifiedText = text, text
			}
			if _, err := chromedp.Call(tab, input.DispatchKeyEvent, *k); err != nil {
				t.Fatal(err)
			}
		}
	}
}
