package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/sidecar/cases"
)

// TestConsoleLevers is a lead's enforcement lever worked from the console's
// case panel in real headless Chromium, against the real service, a real
// ClickHouse and a real HTTP receiver standing in for the platform's
// payout-hold endpoint (it verifies every signature with outbound.Verify),
// with no mouse: the lead signs in, finds the ring's alert, claims and
// escalates it by keys; the case panel offers only payout_hold (the one kind
// enabled); the lead ticks the case's accounts with Space, types a reason
// and presses Enter; the receiver takes the signed hold for those accounts;
// mod-b (role moderator), in another browser context with the alert open,
// sees the lever appear and its hold delivered without a reload, and no
// approval form nor lift control; the lead types a reason in the lever's
// lift field and presses Enter; the receiver takes the release and mod-b
// sees the lever ended. Screenshots are kept in
// $RONDA_CONSOLE_SCREENSHOT_DIR (else a temporary directory).
func TestConsoleLevers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and ClickHouse")
	}
	ch := clickhouse(t)
	platform := &payoutPlatform{kept: map[string]map[string]any{}}
	psrv := httptest.NewServer(platform)
	defer psrv.Close()
	testEnv[payoutHoldSecretEnv] = payoutSecret
	defer delete(testEnv, payoutHoldSecretEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cfg := recordConfig(t, ch)
	cfg.Enforcement.PayoutHold.URL = psrv.URL // payout_hold on; deny_publish stays off
	r := startService(t, cfg)
	console := "http://" + r.addr + ConsolePath
	shots := artefactDir(t)

	ring, _ := playRing(t, r)
	id := cases.ID(ring.ID)

	// The lead signs in by keyboard, finds the alert, claims and escalates it.
	lead := newBrowser(t, ctx)
	errsLead := watchConsole(lead)
	signIn(t, lead, console, tokLead)
	searchAlert(t, lead, ring.ID)
	claimEscalate(t, lead, "one phone behind three hosts, one payout account")

	// mod-b, a moderator, has the same alert open in a context of its own.
	modB, closeB := chromedp.NewContext(lead, chromedp.WithNewBrowserContext())
	defer closeB()
	errsB := watchConsole(modB)
	do(t, modB, chromedp.Navigate(console+"#token="+tokModB+"&alert="+ring.ID))
	for name, tab := range map[string]context.Context{"the lead": lead, "mod-b": modB} {
		waitJS(t, tab, name+"'s case panel with no lever yet", fmt.Sprintf(`(document.getElementById("d-case-id") || {}).textContent === %s &&
			document.getElementById("d-lever-list").textContent.includes("No levers on this case")`, jsString(id)))
	}
	evalJS[bool](t, modB, `(window.rondaNotReloaded = true)`)

	// Only the kind the service has enabled is offered, with the case's
	// hosts and accounts as labelled checkboxes.
	waitJS(t, lead, "the lead's lever form", `!document.getElementById("form-lever").hidden &&
		document.querySelectorAll("#d-lever-entity-list input[type=checkbox][data-kind=account]").length > 0`)
	if kinds := evalJS[[]string](t, lead, `[...document.getElementById("in-lever-kind").options].map((o) => o.value)`); !slices.Equal(kinds, []string{"payout_hold"}) {
		t.Fatalf("lever kinds offered %v, want only payout_hold (deny_publish is off)", kinds)
	}
	if unlabelled := evalJS[int](t, lead, `[...document.querySelectorAll("#form-lever input, #form-lever select")].filter((i) =>
		!i.labels || !i.labels.length || !i.labels[0].textContent.trim()).length`); unlabelled != 0 {
		t.Errorf("%d controls of the lever form have no label", unlabelled)
	}
	boxes := evalJS[[]string](t, lead, `[...document.querySelectorAll("#d-lever-entity-list input[data-kind=account]")].map((b) => b.id)`)
	accounts := evalJS[[]string](t, lead, `[...document.querySelectorAll("#d-lever-entity-list input[data-kind=account]")].map((b) => b.dataset.id)`)
	sectionShot(t, lead, shots, "levers-0-form.png", "#d-case-levers", "center")

	// The lead ticks every account with Space, gives a reason, Enter.
	for _, b := range boxes {
		tickBox(t, lead, b, b)
	}
	const why = "the ring's payouts go to these accounts"
	lever := approveLever(t, lead, "payout_hold", why, "the hold")

	// The platform takes the signed hold, for exactly the ticked accounts.
	waitFor(t, 20*time.Second, "the payout hold at the platform", func() bool { return platform.has(lever + "/hold") })
	hold := platform.get(lever + "/hold")
	if got := anyStrings(hold["accounts"]); hold["type"] != "payout_hold" || hold["case_id"] != id || hold["reason"] != why ||
		!sameSet(got, accounts) {
		t.Errorf("hold %v, want payout_hold of case %s on %v", hold, id, accounts)
	}

	// mod-b sees it, and its delivery, without a reload; and no controls.
	li := fmt.Sprintf(`document.querySelector("#d-lever-list li[data-lever-id=%s]")`, lever)
	waitJS(t, modB, "the hold in mod-b's panel, delivered", fmt.Sprintf(`window.rondaNotReloaded === true && !!%[1]s &&
		%[1]s.dataset.state === "active" && %[1]s.querySelector(".lever-delivery").dataset.hold === "delivered"`, li))
	if evalJS[bool](t, modB, `!document.getElementById("form-lever").hidden ||
		[...document.querySelectorAll("#d-lever-list form")].some((f) => !f.hidden)`) {
		t.Error("a moderator's case panel offers to approve or lift a lever (a lead's)")
	}
	sectionShot(t, modB, shots, "levers-1-second-moderator-active.png", "#d-case-levers", "center")
	sectionShot(t, lead, shots, "levers-2-lead-active.png", "#d-case-levers", "center")

	// The lead lifts it: a reason in the focused field, Enter.
	do(t, lead, chromedp.KeyEvent("the platform has frozen the accounts itself\r"))
	waitJS(t, lead, "the hold ended, the focus on the lever", fmt.Sprintf(`%[1]s.dataset.state === "ended" &&
		%[1]s.textContent.includes("lifted by lead") && document.activeElement === %[1]s`, li))
	waitFor(t, 20*time.Second, "the payout release at the platform", func() bool { return platform.has(lever + "/release") })
	if rel := platform.get(lever + "/release"); rel["type"] != "payout_release" || !sameSet(anyStrings(rel["accounts"]), accounts) {
		t.Errorf("release %v, want payout_release on %v", rel, accounts)
	}
	waitJS(t, modB, "the lift and the release in mod-b's panel", fmt.Sprintf(`window.rondaNotReloaded === true &&
		%[1]s.dataset.state === "ended" && %[1]s.querySelector(".lever-delivery").dataset.release === "delivered"`, li))
	if platform.badCount() != 0 {
		t.Errorf("%d callbacks with a bad signature", platform.badCount())
	}
	sectionShot(t, modB, shots, "levers-3-second-moderator-lifted.png", "#d-case-levers", "center")

	// A lever that runs out (approved by the API for a second) is listed in
	// both consoles, then shown ended when its time is up, with no message.
	x := api(t, "http://"+r.addr, "POST", "/v1/levers", tokLead, fmt.Appendf(nil,
		`{"kind":"payout_hold","case_id":%q,"reason":"a short hold","for":"1s"}`, id))
	var short struct{ ID string }
	if x.status != 201 || json.Unmarshal(x.body, &short) != nil {
		t.Fatalf("a short hold: %d %.200s", x.status, x.body)
	}
	for name, tab := range map[string]context.Context{"the lead": lead, "mod-b": modB} {
		waitJS(t, tab, "the short hold ended in "+name+"'s panel", fmt.Sprintf(`(() => {
			const li = document.querySelector("#d-lever-list li[data-lever-id=%s]");
			return !!li && li.dataset.state === "ended" && li.textContent.includes("ended at") && !li.querySelector("form:not([hidden])");
		})()`, short.ID))
	}

	// The steps are audited in ClickHouse's actions.
	waitFor(t, 30*time.Second, "the lever's audit in ClickHouse", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT action, moderator FROM %s.actions FINAL WHERE target = '%s' ORDER BY at, action",
			cfg.ClickHouse.Database, lever))
		return err == nil && strings.Contains(out, "lever_approve\tlead") && strings.Contains(out, "lever_lift\tlead") &&
			strings.Contains(out, "payout_release_delivered\tronda")
	})

	for tab, errs := range map[string]func() []string{"lead": errsLead, "mod-b": errsB} {
		if e := errs(); len(e) > 0 {
			t.Errorf("%s's page reported errors:\n%s", tab, strings.Join(e, "\n"))
		}
	}
	t.Logf("screenshots in %s", shots)
}

func (p *payoutPlatform) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.kept[key]
	return ok
}

func (p *payoutPlatform) get(key string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept[key]
}

func (p *payoutPlatform) badCount() int { p.mu.Lock(); defer p.mu.Unlock(); return p.bad }

func anyStrings(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return len(a) > 0 && slices.Equal(a, b)
}
