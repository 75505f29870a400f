package cases

import (
	"testing"
	"time"
)

// TestPrintLinksOpenOncePerCaseInTime: a link opens its case's page once,
// not another case's, not after PrintLinkTTL; past MaxPrintLinks open links
// none is issued until some expire.
func TestPrintLinksOpenOncePerCaseInTime(t *testing.T) {
	var p printLinks
	now := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	a, b := ID("al-1"), ID("al-2")
	k := p.issue(a, now)
	if len(k) != 32 || p.use(k, b, now) {
		t.Fatalf("key %q opened another case's page", k)
	}
	if !p.use(k, a, now) || p.use(k, a, now) {
		t.Fatal("a link did not open its page exactly once")
	}
	k = p.issue(a, now)
	if p.use(k, a, now.Add(PrintLinkTTL)) {
		t.Fatal("an expired link opened the page")
	}
	if p.use("", a, now) {
		t.Fatal("no key opened the page")
	}
	for i := range MaxPrintLinks {
		if p.issue(a, now) == "" {
			t.Fatalf("link %d refused under the bound", i)
		}
	}
	if p.issue(a, now) != "" {
		t.Fatal("a link issued past MaxPrintLinks")
	}
	if p.issue(a, now.Add(PrintLinkTTL)) == "" {
		t.Fatal("no link once the others expired")
	}
}
