package serve

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/enforce"
)

// TestConsoleDenyPublish is a deny_publish lever worked from the console's
// case panel in real headless Chromium, with no mouse, and obeyed by a real
// media server: the service has `enforcement.deny_publish: true` (and no
// payout hold), a real ClickHouse, and Debian's nginx-rtmp (nginxtest) with
// on_publish and on_publish_done pointed at the service's nginx-rtmp hook.
// The lead signs in, finds the ring's alert, claims and escalates it by
// keys; the case panel offers only deny_publish, with the case's hosts and
// devices as labelled checkboxes; the lead ticks one host of the case with
// Space, types a reason and presses Enter. Then ffmpeg publishing as that
// host is refused by nginx-rtmp, while another host (of the same case, not
// ticked, when the case has one) publishes to the end. The lead lifts the
// lever from its focused lift field by Enter, and the same host publishes
// again. After approve and after lift the focused element is in sight, not
// under the detail pane's sticky head. The denial is counted and recorded,
// and approve and lift are audited in ClickHouse's actions. Screenshots are kept in $RONDA_CONSOLE_SCREENSHOT_DIR (else a
// temporary directory).
func TestConsoleDenyPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser, nginx, ffmpeg and ClickHouse")
	}
	nginxtest.Need(t)
	ch := clickhouse(t)
	const rtmpSecret = "rtmp-secret-console-0123456789"
	testEnv["RONDA_TEST_RTMP"] = rtmpSecret
	defer delete(testEnv, "RONDA_TEST_RTMP")
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	cfg := recordConfig(t, ch)
	cfg.Adapters = AdaptersConfig{NginxRTMP: SecretRef{ID: "rtmp", Env: "RONDA_TEST_RTMP"}, HostParam: "host"}
	cfg.Enforcement = enforce.Config{DenyPublish: true} // deny_publish on; payout_hold stays off
	r := startService(t, cfg)
	console := "http://" + r.addr + ConsolePath
	shots := artefactDir(t)

	ring, labels := playRing(t, r)
	host := labels.PositiveHosts[0]
	id := cases.ID(ring.ID)

	// The lead signs in by keyboard, finds the alert, claims and escalates it.
	lead := newBrowser(t, ctx)
	errsLead := watchConsole(lead)
	signIn(t, lead, console, tokLead)
	searchAlert(t, lead, ring.ID)
	claimEscalate(t, lead, "three hosts behind one phone, streaming in turns")
	waitJS(t, lead, "the case panel with no lever yet", fmt.Sprintf(`(document.getElementById("d-case-id") || {}).textContent === %s &&
		document.getElementById("d-lever-list").textContent.includes("No levers on this case")`, jsString(id)))

	// Only deny_publish is offered, with the case's hosts (and devices).
	box := fmt.Sprintf(`[...document.querySelectorAll("#d-lever-entity-list input[type=checkbox][data-kind=host]")].find((b) => b.dataset.id === %s)`, jsString(host))
	waitJS(t, lead, "the lead's lever form with the ring's host", fmt.Sprintf(`!document.getElementById("form-lever").hidden && !!%s`, box))
	if kinds := evalJS[[]string](t, lead, `[...document.getElementById("in-lever-kind").options].map((o) => o.value)`); !slices.Equal(kinds, []string{"deny_publish"}) {
		t.Fatalf("lever kinds offered %v, want only deny_publish (payout_hold is off)", kinds)
	}
	if kinds := evalJS[[]string](t, lead, `[...document.querySelectorAll("#d-lever-entity-list input[type=checkbox]")].map((b) => b.dataset.kind)`); slices.ContainsFunc(kinds, func(k string) bool { return k != "host" && k != "device" }) {
		t.Errorf("deny_publish offers entities of kinds %v, want hosts and devices only", kinds)
	}
	if unlabelled := evalJS[int](t, lead, `[...document.querySelectorAll("#form-lever input, #form-lever select")].filter((i) =>
		!i.labels || !i.labels.length || !i.labels[0].textContent.trim()).length`); unlabelled != 0 {
		t.Errorf("%d controls of the lever form have no label", unlabelled)
	}
	// The other host that publishes: another of the case's hosts, left
	// unticked, so the lever is shown to take only what was ticked.
	other := evalJS[string](t, lead, fmt.Sprintf(`([...document.querySelectorAll("#d-lever-entity-list input[data-kind=host]")].map((b) => b.dataset.id).find((h) => h !== %s) || "")`, jsString(host)))
	if other == "" {
		other = "host-not-in-the-case"
	}
	t.Logf("the lever goes on host %s; host %s publishes beside it", host, other)
	sectionShot(t, lead, shots, "deny-0-form.png", "#d-case-levers", "center")

	// The lead ticks the ring's host with Space, gives a reason, Enter.
	boxID := evalJS[string](t, lead, box+`.id`)
	tickBox(t, lead, boxID, "the host")
	lever := approveLever(t, lead, "deny_publish", "the ring's phone streams as this host", "the denial")
	focusInSight(t, lead, "the lift field")
	if on := evalJS[string](t, lead, fmt.Sprintf(`document.querySelector("#d-lever-list li[data-lever-id=%s] .lever-on").textContent`, lever)); on != "on host "+host {
		t.Errorf("the lever is %q, want on host %s alone", on, host)
	}
	sectionShot(t, lead, shots, "deny-1-active.png", "#d-lever-list", "start")

	// nginx-rtmp asks the service at every publish: the host under the lever
	// is refused, the other broadcasts to the end.
	hook := "http://" + r.addr + "/hooks/nginx-rtmp?secret=" + rtmpSecret
	rtmp := nginxtest.Start(t, nginxtest.Options{RTMPConf: fmt.Sprintf("on_publish %s;\non_publish_done %s;", hook, hook)})
	stream := func(name, h string) string { return name + "?host=" + url.QueryEscape(h) }
	if err := nginxtest.Publish(t, rtmp, stream("ring-refused", host), 2).Err(t); err == nil {
		t.Fatalf("nginx-rtmp let %s publish under the deny_publish lever approved from the console", host)
	}
	nginxtest.Publish(t, rtmp, stream("ring-other", other), 2).Wait(t, "another host ("+other+")")
	if n := metricSum(t, r.svc.reg, "ronda_levers_publish_denied_total"); n < 1 {
		t.Errorf("ronda_levers_publish_denied_total %v, want the refused publish counted", n)
	}

	// The lead lifts it: a reason in the focused lift field, Enter.
	li := fmt.Sprintf(`document.querySelector("#d-lever-list li[data-lever-id=%s]")`, lever)
	do(t, lead, chromedp.KeyEvent("the platform has suspended the phone itself\r"))
	waitJS(t, lead, "the denial ended, the focus on the lever", fmt.Sprintf(`%[1]s.dataset.state === "ended" &&
		%[1]s.textContent.includes("lifted by lead") && document.activeElement === %[1]s`, li))
	focusInSight(t, lead, "the lifted lever")
	sectionShot(t, lead, shots, "deny-2-lifted.png", "#d-lever-list", "start")
	nginxtest.Publish(t, rtmp, stream("ring-again", host), 2).Wait(t, host+" after the lever was lifted from the console")

	// The refused attempt is in the record (a start and an end at the same
	// instant), and the steps are audited in ClickHouse's actions.
	waitFor(t, 30*time.Second, "the refused attempt in the record", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT count() FROM %s.events FINAL WHERE stream_id = 'live/ring-refused'", cfg.ClickHouse.Database))
		return err == nil && strings.TrimSpace(out) == "2"
	})
	waitFor(t, 30*time.Second, "the lever's audit in ClickHouse", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT action, moderator FROM %s.actions FINAL WHERE target = '%s' ORDER BY at, action",
			cfg.ClickHouse.Database, lever))
		return err == nil && strings.Contains(out, "lever_approve\tlead") && strings.Contains(out, "lever_lift\tlead")
	})
	if e := errsLead(); len(e) > 0 {
		t.Errorf("the lead's page reported errors:\n%s", strings.Join(e, "\n"))
	}
	t.Logf("screenshots in %s", shots)
}

// focusInSight waits until the element with the focus is in the viewport
// below the detail pane's sticky head, not hidden under it (WCAG 2.4.11):
// the point at its centre is the element itself, and it starts below the
// head.
func focusInSight(t *testing.T, tab context.Context, what string) {
	t.Helper()
	waitJS(t, tab, what+" focused and in sight below the detail head", `(() => {
		const a = document.activeElement, head = document.querySelector(".detail-head");
		if (!a || !head) return false;
		const r = a.getBoundingClientRect(), at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return r.height > 0 && r.top >= head.getBoundingClientRect().bottom && !!at && a.contains(at);
	})()`)
}
