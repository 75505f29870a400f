package cases

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Print links. A console holds its token in memory and sends it as a
// header; a window it opens on the printable page cannot. So the console
// asks for a print link (POST Path+ID+"/print", any token): the page's
// address with a random one-time key, which opens the page once, within
// PrintLinkTTL, without a token. The page carries no script and loads
// nothing; the key is 128 random bits, used up by its first read, and only
// ever in the address of a page served with Referrer-Policy: no-referrer.
const (
	// PrintLinkTTL is how long a print link opens its page.
	PrintLinkTTL = time.Minute
	// MaxPrintLinks bounds the links not yet used and not expired; past it
	// a request for one is refused (503), counted as full.
	MaxPrintLinks = 1024
)

// Results of ronda_cases_print_links_total.
const (
	linkIssued  = "issued"
	linkUsed    = "used"
	linkRefused = "refused" // unknown, used before, expired or for another case
	linkFull    = "full"
)

type printLinks struct {
	mu sync.Mutex
	m  map[string]printLink
}

type printLink struct {
	caseID  string
	expires time.Time
}

// issue gives a new key for caseID, or "" when MaxPrintLinks are out.
func (p *printLinks) issue(caseID string, now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]printLink{}
	}
	for k, l := range p.m {
		if !now.Before(l.expires) {
			delete(p.m, k)
		}
	}
	if len(p.m) >= MaxPrintLinks {
		return ""
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	key := hex.EncodeToString(b[:])
	p.m[key] = printLink{caseID: caseID, expires: now.Add(PrintLinkTTL)}
	return key
}

// use takes key for caseID: true once, within its time.
func (p *printLinks) use(key, caseID string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.m[key]
	if !ok || l.caseID != caseID {
		return false
	}
	delete(p.m, key)
	return now.Before(l.expires)
}

// printLink answers POST Path+ID+"/print" with the page's one-time address.
func (s *Service) printLink(w http.ResponseWriter, r *http.Request, _ who) {
	id := r.PathValue("id")
	now := s.opts.Now()
	key := s.links.issue(id, now)
	if key == "" {
		s.m.links.WithLabelValues(linkFull).Inc()
		s.fail(w, http.StatusServiceUnavailable, "unavailable", "too many print links open; try again in a minute")
		return
	}
	s.m.links.WithLabelValues(linkIssued).Inc()
	s.json(w, http.StatusOK, struct {
		URL     string    `json:"url"`
		Expires time.Time `json:"expires"`
	}{Path + id + "/page?link=" + key, now.Add(PrintLinkTTL).UTC()})
}

// pageByLink serves GET Path+ID+"/page?link=K": the page once, without a
// token, for a key printLink gave.
func (s *Service) pageByLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	id := r.PathValue("id")
	if !idRe.MatchString(id) || !s.links.use(r.URL.Query().Get("link"), id, s.opts.Now()) {
		s.m.links.WithLabelValues(linkRefused).Inc()
		s.fail(w, http.StatusForbidden, "forbidden", "the print link is unknown, used or expired: print again from the console")
		return
	}
	s.m.links.WithLabelValues(linkUsed).Inc()
	s.pageOf(w, r, who{})
}
