package cases

import (
	"fmt"
	"testing"
	"time"
)

// TestPrintLinksOpenOncePerCaseInTime: a link opens its case's page once,
// not another case's, not after PrintLinkTTL; past MaxPrintLinksPerUser of
// one subject's open links none is issued to that subject (others still get
// theirs); past MaxPrintLinks open links none is issued until some expire.
func TestPrintLinksOpenOncePerCaseInTime(t *testing.T) {
	var p printLinks
	now := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	a, b := ID("al-1"), ID("al-2")
	k, _ := p.issue(a, "ana", now)
	if len(k) != 32 || p.use(k, b, now) {
		t.Fatalf("key %q opened another case's page", k)
	}
	if !p.use(k, a, now) || p.use(k, a, now) {
		t.Fatal("a link did not open its page exactly once")
	}
	k, _ = p.issue(a, "ana", now)
	if p.use(k, a, now.Add(PrintLinkTTL)) {
		t.Fatal("an expired link opened the page")
	}
	if p.use("", a, now) {
		t.Fatal("no key opened the page")
	}
	// ana has none open (use took them): 16, then no more.
	for i := range MaxPrintLinksPerUser {
		if k, res := p.issue(a, "ana", now); k == "" {
			t.Fatalf("ana's link %d refused (%s) under her bound", i, res)
		}
	}
	if k, res := p.issue(b, "ana", now); k != "" || res != linkUser {
		t.Fatalf("ana's link past MaxPrintLinksPerUser: %q %s, want refused as %s", k, res, linkUser)
	}
	if k, _ := p.issue(a, "bea", now); k == "" {
		t.Fatal("bea refused because ana is at her bound")
	}
	for i := MaxPrintLinksPerUser + 1; i < MaxPrintLinks; i++ { // ana's and bea's are open
		if k, res := p.issue(a, fmt.Sprint("viewer-", i), now); k == "" {
			t.Fatalf("link %d refused (%s) under the bound", i, res)
		}
	}
	if k, res := p.issue(a, "cai", now); k != "" || res != linkFull {
		t.Fatalf("a link past MaxPrintLinks: %q %s, want refused as %s", k, res, linkFull)
	}
	if k, _ := p.issue(a, "ana", now.Add(PrintLinkTTL)); k == "" {
		t.Fatal("no link once the others expired")
	}
}
