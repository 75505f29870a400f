package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// chromiumPath is Debian's Chromium (apt-get install chromium); .ci/run
// installs it.
const chromiumPath = "/usr/bin/chromium"

// TestConsoleInARealBrowser opens the console the service serves in a real
// headless Chromium, as moderators use it, beside a second moderator on a
// plain websocket: mod-a signs in by a link, an alert raised over HTTP appears
// in the queue, its reasons in the detail pane; mod-a claims it and mod-b sees
// the claim; mod-b's note (with markup in it) shows in mod-a's activity as
// text. A wrong token gets a readable refusal and no queue, and a viewer gets
// no Claim button.
//
// With RONDA_CONSOLE_SCREENSHOT=file.png it also saves mod-a's screen with the
// alert open, for a look at the layout.
func TestConsoleInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := startService(t, baseConfig(t))
	console := "http://" + r.addr + ConsolePath

	// (a) mod-a follows a link with the token in the fragment.
	modA := newBrowser(t, ctx)
	errsA := watchConsole(modA)
	do(t, modA, chromedp.Navigate(console+"#token="+tokModA))
	waitJS(t, modA, "mod-a's console connected", `document.getElementById("conn").dataset.state === "connected"`)
	if name, role := evalJS[string](t, modA, `document.getElementById("who-name").textContent`),
		evalJS[string](t, modA, `document.getElementById("who-role").textContent`); name != "mod-a" || role != "moderator" {
		t.Fatalf("header names %q, role %q; want mod-a, moderator", name, role)
	}
	if href := evalJS[string](t, modA, `location.href`); strings.Contains(href, tokModA) {
		t.Errorf("the token is still in the address bar: %s", href)
	}
	modB := dialModerator(t, r.addr, tokModB)
	modB.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })

	// (b) A new host starts a stream and a hash match arrives for it.
	host := fmt.Sprintf("console-host-%d", time.Now().UnixNano())
	alert := raiseAlert(t, r.addr, modB, host)
	row := queueRow(alert.ID)
	waitJS(t, modA, "a queue row naming the host", fmt.Sprintf(
		`(document.querySelector(%s) || {}).textContent?.includes(%s)`, jsString(row), jsString(host)))

	// (c) Selecting it shows why: every reason's sentence.
	do(t, modA, chromedp.Click(chromedp.CSS(row)))
	for _, reason := range alert.Reasons {
		waitJS(t, modA, "the reason "+reason.Detector+" in the detail pane", fmt.Sprintf(
			`document.getElementById("d-reasons").textContent.includes(%s)`, jsString(reason.Summary)))
	}
	if len(alert.Reasons) == 0 {
		t.Fatal("the alert has no reasons to show")
	}
	// The version is numbered as the terminal and the record number it
	// (updates, 0 for the first), and the age counts from the newest event
	// time seen, not from this browser's clock: event time may be days back
	// in a replay.
	if got, want := evalJS[string](t, modA, `document.getElementById("d-meta").textContent`),
		fmt.Sprintf("version %d", alert.Updates); !strings.Contains(got, want) {
		t.Errorf("detail meta %q, want %q", got, want)
	}
	if got := evalJS[string](t, modA, fmt.Sprintf(`document.querySelector(%s + " td.when").textContent`, jsString(row))); got != "newest" {
		t.Errorf("the only alert's age reads %q, want newest", got)
	}

	// (d) mod-a claims it: mod-b is told, and mod-a's console shows the claim.
	do(t, modA, chromedp.Click(chromedp.ID("act-claim")))
	claim := modB.find(5*time.Second, "mod-a's claim", func(m map[string]any) bool {
		a, _ := m["action"].(map[string]any)
		return m["type"] == "action" && a["alert_id"] == alert.ID && a["action"] == "claim" && a["moderator"] == "mod-a"
	})
	if st, _ := claim["state"].(map[string]any); st["claimed_by"] != "mod-a" {
		t.Errorf("mod-b's copy of the claim has state %v", claim["state"])
	}
	waitJS(t, modA, "the row claimed by mod-a", fmt.Sprintf(
		`(document.querySelector(%s + " [data-col=status]") || {}).textContent?.includes("claimed by mod-a")`, jsString(row)))
	waitJS(t, modA, "the detail pane's state claimed by mod-a", `document.getElementById("d-state").dataset.claimedBy === "mod-a"`)

	// (e) mod-b notes something; mod-a reads it, as text.
	note := `same phone as last week's ring <img src=x onerror="document.title='pwned'">`
	modB.send(map[string]any{"type": "action", "request_id": "b1", "alert_id": alert.ID, "action": "note", "note": note})
	waitJS(t, modA, "mod-b's note in the activity feed", fmt.Sprintf(
		`[...document.querySelectorAll("#activity li[data-kind=action]")].some(li => li.textContent.includes("mod-b") && li.textContent.includes(%s))`,
		jsString(note)))
	waitJS(t, modA, "mod-b's note in the detail pane's notes", fmt.Sprintf(
		`[...document.querySelectorAll("#d-state .notes li")].some(li => li.textContent === "mod-b: " + %s)`, jsString(note)))
	if n := evalJS[int](t, modA, `document.querySelectorAll("#activity img, #detail img").length`); n != 0 {
		t.Errorf("the note became markup: %d img elements", n)
	}
	if p := os.Getenv("RONDA_CONSOLE_SCREENSHOT"); p != "" {
		png, err := chromedp.Run(modA, chromedp.FullScreenshot(100)) // quality 100 is a PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// (f) A second tab with a wrong token: a readable refusal, no queue.
	wrong, closeWrong := chromedp.NewContext(modA)
	defer closeWrong()
	errsWrong := watchConsole(wrong)
	do(t, wrong, chromedp.Navigate(console+"#token=not-a-token-of-this-hub"))
	waitJS(t, wrong, "the invalid token message", `!document.getElementById("login-error").hidden &&
		document.getElementById("login-error").textContent.toLowerCase().includes("invalid token")`)
	if ok := evalJS[bool](t, wrong, `document.getElementById("app").hidden &&
		document.querySelectorAll("#queue-body tr").length === 0 &&
		document.getElementById("conn").dataset.state === "refused"`); !ok {
		t.Error("a console with a wrong token shows the queue or does not say it was refused")
	}

	// (g) A viewer reads an alert nobody holds, and has no Claim button to
	// press (where a moderator would).
	other := raiseAlert(t, r.addr, modB, host+"-2")
	viewer, closeViewer := chromedp.NewContext(modA)
	defer closeViewer()
	errsViewer := watchConsole(viewer)
	do(t, viewer, chromedp.Navigate(console+"#token="+tokViewer))
	waitJS(t, viewer, "the viewer's console connected", `document.getElementById("conn").dataset.state === "connected" &&
		document.getElementById("who-role").textContent === "viewer"`)
	waitJS(t, viewer, "the unclaimed alert in the viewer's queue", fmt.Sprintf(`!!document.querySelector(%s)`, jsString(queueRow(other.ID))))
	do(t, viewer, chromedp.Click(chromedp.CSS(queueRow(other.ID))))
	waitJS(t, viewer, "the viewer's detail pane, read only", `!document.getElementById("detail").hidden &&
		!document.getElementById("actions-readonly").hidden`)
	if evalJS[bool](t, viewer, `(() => {
		const b = document.getElementById("act-claim");
		return !!b && !b.disabled && b.offsetParent !== null;
	})()`) {
		t.Error("the viewer has an enabled Claim button")
	}

	// (h) A link naming an alert opens it once the queue is in; a later
	// #alert=<id> in the same tab opens that one. The dismiss field offers
	// the store's reasons as a list.
	linked, closeLinked := chromedp.NewContext(modA)
	defer closeLinked()
	errsLinked := watchConsole(linked)
	do(t, linked, chromedp.Navigate(console+"#token="+tokModA+"&alert="+alert.ID))
	waitJS(t, linked, "the linked alert open", fmt.Sprintf(`!document.getElementById("detail").hidden &&
		(document.querySelector(%s) || {}).getAttribute?.("aria-selected") === "true"`, jsString(queueRow(alert.ID))))
	if href := evalJS[string](t, linked, `location.href`); strings.Contains(href, tokModA) {
		t.Errorf("the token is still in the address bar: %s", href)
	}
	evalJS[string](t, linked, fmt.Sprintf(`location.hash = "alert=" + %s`, jsString(other.ID)))
	waitJS(t, linked, "the second linked alert open", fmt.Sprintf(
		`(document.querySelector(%s) || {}).getAttribute?.("aria-selected") === "true"`, jsString(queueRow(other.ID))))
	if n := evalJS[int](t, linked, `document.getElementById("in-dismiss").list.options.length`); n != len(store.DismissReasons) {
		t.Errorf("the dismiss field offers %d reasons, want %d", n, len(store.DismissReasons))
	}

	for tab, errs := range map[string]func() []string{"mod-a": errsA, "wrong token": errsWrong, "viewer": errsViewer, "linked": errsLinked} {
		if e := errs(); len(e) > 0 {
			t.Errorf("%s's page reported errors:\n%s", tab, strings.Join(e, "\n"))
		}
	}
}

// The console is mounted beside the hub, / and /console lead to it, and
// moderators.console: false leaves only the hub (and whoami) served.
func TestConsoleMountedBesideTheHub(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name    string
		console *bool
		want    map[string]string // path: status and, for a redirect, where to
	}{
		{"default", nil, map[string]string{"/": "302 /console/", "/console": "302 /console/", "/console/": "200",
			"/console/console.js": "200", "/nowhere": "404", "/v1/alerts/whoami": "200"}},
		{"console off", &off, map[string]string{"/": "404", "/console": "404", "/console/": "404", "/v1/alerts/whoami": "200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			cfg.Moderators.Console = tc.console
			r := startService(t, cfg)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for path, want := range tc.want {
				req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+path, nil)
				req.Header.Set("Authorization", "Bearer "+tokViewer)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got := strconv.Itoa(resp.StatusCode)
				if loc := resp.Header.Get("Location"); loc != "" {
					got += " " + loc
				}
				if got != want {
					t.Errorf("GET %s: %s, want %s", path, got, want)
				}
				if want == "200" && strings.HasPrefix(path, ConsolePath) && resp.Header.Get("Content-Security-Policy") == "" {
					t.Errorf("GET %s without a Content-Security-Policy", path)
				}
			}
		})
	}
}

// raiseAlert posts what raises an alert for a new host at once (its stream
// starts, and a hash match arrives for it) and returns the alert as the
// moderator m receives it.
func raiseAlert(t *testing.T, addr string, m *moderator, host string) analyzer.Alert {
	t.Helper()
	now := time.Now().UTC()
	postOK(t, addr, ndjson(t, []event.Event{
		{ID: host + "-start", Type: event.TypeStreamStart, At: now, StreamID: host + "-s", HostID: host, DeviceID: host + "-d"},
		{ID: host + "-hash", Type: event.TypeSignal, At: now, HostID: host, Source: "test", Label: "csam_hash_match", Score: 0.99},
	}))
	return decodeAlert(m.find(10*time.Second, "the alert of "+host, alertMsg(analyzer.SeverityHigh, host)))
}

// queueRow selects the console's queue row of an alert.
func queueRow(id string) string { return fmt.Sprintf(`#queue-body tr[data-alert-id=%q]`, id) }

// newBrowser starts a headless Chromium with a fresh profile, bounded by ctx,
// and returns the context of its first tab. Without Chromium the test is
// skipped, except under CI=true, where that is a failure.
func newBrowser(t *testing.T, ctx context.Context, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true): apt-get install -y chromium", chromiumPath)
		}
		t.Skipf("%s not found; apt-get install -y chromium to run the console test", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	}, extra...)...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit, before its profile is removed
	})
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return tab
}

// watchConsole collects what the page reports as broken: uncaught exceptions
// and refusals by the Content-Security-Policy.
func watchConsole(tab context.Context) func() []string {
	var mu sync.Mutex
	var errs []string
	msgs := chromedp.Console(tab)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// waitJS waits, at most 15 s, until the JavaScript expression holds in the page.
func waitJS(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(tab, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("console: waiting for %s: %v", what, err)
	}
}

func evalJS[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
