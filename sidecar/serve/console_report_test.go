package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ronda-watch/ronda/sidecar/cases"
)

// TestConsoleReport is a ring's alert taken from the queue to the report
// route in real headless Chromium, against the real service, a real
// ClickHouse and a real HTTP receiver standing in for the hotline, with no
// mouse: the lead signs in, searches the alert, claims and escalates it by
// keys; mod-b, in another browser context with the alert open, adds a note
// to the case by keyboard and the lead's case panel shows it live; the lead
// tabs to Approve and presses Enter, then Submit, and mod-b's panel follows
// each change without a reload; the receiver takes the signed case once;
// the lead's Print case file opens the page in a new window through a
// one-time link, which is printed to PDF and read back with pdftotext for
// the reported accounts, the UTC times and the notes. Screenshots and the
// PDF are kept in $RONDA_CONSOLE_SCREENSHOT_DIR (else a temporary directory).
func TestConsoleReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and ClickHouse")
	}
	ch := clickhouse(t)
	rc := &receiver{t: t, taken: map[string]int{}, bodies: map[string][]byte{}}
	hotline := httptest.NewServer(rc)
	defer hotline.Close()
	testEnv["RONDA_TEST_REPORT"] = reportSecret
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cfg := recordConfig(t, ch)
	cfg.Cases = CasesConfig{Backoff: 20 * time.Millisecond, BreakerFailures: 2, BreakerOpen: 500 * time.Millisecond, Attempts: 5,
		Routes: []ReportRoute{{Name: "cybertip", Kind: "http", URL: hotline.URL, Secret: SecretRef{Env: "RONDA_TEST_REPORT"}}}}
	r := startService(t, cfg)
	base := "http://" + r.addr
	console := base + ConsolePath
	shots := artefactDir(t)

	// A ring's world, so that the case has accounts, streams and payouts.
	ring, _ := playRing(t, r)
	id := cases.ID(ring.ID)
	waitFor(t, 30*time.Second, "the case tables", func() bool {
		out, err := ch.Client("EXISTS TABLE " + cfg.ClickHouse.Database + ".case_submissions")
		return err == nil && strings.TrimSpace(out) == "1"
	})

	// The lead signs in by keyboard and finds the alert by its id.
	lead := newBrowser(t, ctx)
	errsLead := watchConsole(lead)
	signIn(t, lead, console, tokLead)
	searchAlert(t, lead, ring.ID)

	// mod-b, in a browser context of its own, has the same alert open.
	modB, closeB := chromedp.NewContext(lead, chromedp.WithNewBrowserContext())
	defer closeB()
	errsB := watchConsole(modB)
	do(t, modB, chromedp.Navigate(console+"#token="+tokModB+"&alert="+ring.ID))
	waitJS(t, modB, "mod-b's console with the alert open", fmt.Sprintf(`document.getElementById("conn").dataset.state === "connected" &&
		document.getElementById("d-meta").textContent.includes(%s)`, jsString(ring.ID)))
	evalJS[bool](t, modB, `(window.rondaNotReloaded = true)`) // gone if the page reloads

	// Claim with c, escalate with e, a note and Ctrl+Enter.
	const why = "three hosts on one phone, paid out to one account"
	claimEscalate(t, lead, why)
	for name, tab := range map[string]context.Context{"the lead": lead, "mod-b": modB} {
		waitJS(t, tab, name+"'s case panel with the open case", fmt.Sprintf(`(document.getElementById("d-case-id") || {}).textContent === %s &&
			document.getElementById("d-case-status").dataset.status === "open" &&
			document.getElementById("d-case-notes").textContent.includes(%s)`, jsString(id), jsString(why)))
	}
	if evalJS[bool](t, modB, `!document.getElementById("act-case-approve").hidden || !document.getElementById("act-case-submit").hidden`) {
		t.Error("a moderator's case panel offers approve or submit (a lead's)")
	}
	shot(t, lead, shots, "report-1-escalated.png")

	// mod-b adds a case note by keyboard; the lead's panel shows it live.
	const payout = "the payout account was used by an earlier ring"
	tabTo(t, modB, "in-case-note")
	do(t, modB, chromedp.KeyEvent(payout+"\r"))
	waitJS(t, lead, "mod-b's note in the lead's case panel", fmt.Sprintf(
		`document.getElementById("d-case-notes").textContent.includes(%s)`, jsString(payout)))

	// The lead approves by keyboard: Tab to the button, Enter.
	tabTo(t, lead, "act-case-approve")
	press(t, lead, "\r")
	waitJS(t, lead, "the case approved, the focus on submit", `document.getElementById("d-case-status").dataset.status === "approved" &&
		document.getElementById("d-case-approval").textContent.includes("approved by lead") &&
		document.activeElement.id === "act-case-submit"`)
	waitJS(t, modB, "the approval in mod-b's panel, without a reload", `window.rondaNotReloaded === true &&
		document.getElementById("d-case-status").dataset.status === "approved" &&
		document.getElementById("d-case-approval").textContent.includes("approved by lead")`)
	sectionShot(t, modB, shots, "report-2-second-moderator-approved.png", "#d-case-report", "center")

	// Enter again submits: the receiver takes the signed case once.
	press(t, lead, "\r")
	waitJS(t, lead, "the case submitted and delivered, the focus on print", `document.getElementById("d-case-status").dataset.status === "submitted" &&
		!!document.querySelector("#d-case-delivery li[data-route=cybertip][data-result=delivered]") &&
		document.getElementById("d-case-report-status").textContent.includes("receipt CT-1") &&
		document.activeElement.id === "act-case-print"`)
	waitJS(t, modB, "the delivery in mod-b's panel, without a reload", `window.rondaNotReloaded === true &&
		document.getElementById("d-case-status").dataset.status === "submitted" &&
		!!document.querySelector("#d-case-delivery li[data-route=cybertip][data-result=delivered]")`)
	requests, taken := rc.counts()
	var c cases.Case
	if x := api(t, base, "GET", cases.Path+id, tokViewer, nil); x.status != 200 || json.Unmarshal(x.body, &c) != nil {
		t.Fatalf("the case: %d %.200s", x.status, x.body)
	}
	if key := cases.Key(id, c.Version); requests != 1 || taken[key] != 1 || rc.badSig != 0 {
		t.Errorf("receiver: %d requests, taken %v, %d bad signatures; want %s once", requests, taken, rc.badSig, key)
	}
	sectionShot(t, lead, shots, "report-3-submitted.png", "#d-case-report", "center")
	sectionShot(t, modB, shots, "report-4-second-moderator-submitted.png", "#d-case-report", "center")

	// A blocked pop-up (window.open answers null) is said, not taken for
	// an opened case file. The test browser lets pop-ups open, so the
	// blocker's answer is stood in for, and the real open put back.
	evalJS[bool](t, lead, `(window.rondaOpen = window.open, window.open = () => null, true)`)
	press(t, lead, "\r")
	waitJS(t, lead, "the blocked window said", `document.getElementById("d-case-report-status").textContent.includes("blocked")`)
	evalJS[bool](t, lead, `(window.open = window.rondaOpen, true)`)

	// Print case file (Enter on the focused button) opens the page in a
	// new window, through a one-time link.
	opened := chromedp.WaitNewTarget(lead, func(i *target.Info) bool { return strings.Contains(i.URL, "/page?link=") })
	press(t, lead, "\r")
	var pageID target.ID
	select {
	case pageID = <-opened:
	case <-ctx.Done():
		t.Fatal("no window opened for the case file")
	}
	page, closePage := chromedp.NewContext(lead, chromedp.WithTargetID(pageID))
	defer closePage()
	errsPage := watchConsole(page)
	waitJS(t, page, "the case page", `document.querySelector("h1") && document.querySelector("h1").textContent.includes(`+jsString(id)+`)`)
	if got := evalJS[string](t, page, `getComputedStyle(document.querySelector("th")).backgroundColor`); got != "rgb(238, 238, 238)" {
		t.Errorf("the page's style did not apply (th background %q)", got)
	}
	link := evalJS[string](t, page, `location.pathname + location.search`)
	if resp, err := http.Get(base + link); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the print link opened the page twice: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	shot(t, page, shots, "report-5-case-page.png")
	pdf, err := chromedp.Run(page, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if err != nil {
		t.Fatal(err)
	}
	keepArtefact(t, shots, "report-case.pdf", pdf)
	checkPrintedCase(t, filepath.Join(shots, "report-case.pdf"), c, []string{why, payout})

	for tab, errs := range map[string]func() []string{"lead": errsLead, "mod-b": errsB, "case page": errsPage} {
		if e := errs(); len(e) > 0 {
			t.Errorf("%s's page reported errors:\n%s", tab, strings.Join(e, "\n"))
		}
	}
	t.Logf("screenshots and the printed case in %s", shots)
}

// checkPrintedCase reads the PDF at path with pdftotext and wants the
// reported accounts, the case's times in UTC, its approval and delivery and
// the notes.
func checkPrintedCase(t *testing.T, path string, c cases.Case, notes []string) {
	t.Helper()
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext not found: apt-get install -y poppler-utils")
	}
	text, err := exec.Command(pdftotext, "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	flat := strings.Join(strings.Fields(string(text)), " ")
	utc := func(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05") + " UTC" }
	if len(c.Accounts) == 0 || len(c.Streams) == 0 || c.Approval == nil {
		t.Fatalf("the case has %d accounts, %d streams, approval %v: nothing to check", len(c.Accounts), len(c.Streams), c.Approval)
	}
	want := []string{"Ronda case " + c.ID, "status submitted", "Reported accounts", "approved by lead at " + utc(c.Approval.At),
		"Opened " + utc(c.OpenedAt) + " by lead", c.Streams[0].ID, "cybertip", "delivered"}
	for i, a := range c.Accounts {
		if i == 20 {
			break
		}
		want = append(want, a.ID)
		for _, at := range []time.Time{a.First, a.Last} {
			if !at.IsZero() {
				want = append(want, utc(at))
			}
		}
	}
	want = append(want, notes...)
	for _, w := range want {
		if !strings.Contains(flat, w) {
			t.Errorf("the printed case lacks %q", w)
		}
	}
}

// tabTo moves the keyboard focus with Tab until the element id has it.
func tabTo(t *testing.T, tab context.Context, id string) {
	t.Helper()
	for range 300 {
		if evalJS[bool](t, tab, fmt.Sprintf(`document.activeElement && document.activeElement.id === %s`, jsString(id))) {
			return
		}
		do(t, tab, chromedp.KeyEvent(kb.Tab))
	}
	t.Fatalf("%s not reached with Tab (the focus is on %s)", id, evalJS[string](t, tab, `document.activeElement ? document.activeElement.id || document.activeElement.tagName : ""`))
}
