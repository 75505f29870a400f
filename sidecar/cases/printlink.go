package cases

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

// Print links. A console holds its token in memory and sends it as a
// header; a window it opens on the printable page cannot. So the console
// asks for a print link (POST Path+ID+"/print", any token, for a case that
// exists): the page's
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
	// MaxPrintLinksPerUser bounds the open links of one token subject, so
	// that no one viewer can take all MaxPrintLinks; past it a request is
	// refused (429, Retry-After), counted as user_full. A console asks for
	// one link per key press, which opens at once.
	MaxPrintLinksPerUser = 16
)

// Results of ronda_cases_print_links_total.
const (
	linkIssued  = "issued"
	linkUsed    = "used"
	linkRefused = "refused" // unknown, used before, expired or for another case
	linkFull    = "full"
	linkUser    = "user_full" // the subject has MaxPrintLinksPerUser open
)

type printLinks struct {
	mu sync.Mutex
	m  map[string]printLink
}

type printLink struct {
	caseID  string
	subject string // the token's subject that asked for it
	expires time.Time
}

// issue gives a new key for caseID asked by subject, or "" and the result
// it is refused as (linkFull when MaxPrintLinks are out, linkUser when
// subject has MaxPrintLinksPerUser open).
func (p *printLinks) issue(caseID, subject string, now time.Time) (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]printLink{}
	}
	mine := 0
	for k, l := range p.m {
		switch {
		case !now.Before(l.expires):
			delete(p.m, k)
		case l.subject == subject:
			mine++
		}
	}
	if mine >= MaxPrintLinksPerUser {
		return "", linkUser
	}
	if len(p.m) >= MaxPrintLinks {
		return "", linkFull
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	key := hex.EncodeToString(b[:])
	p.m[key] = printLink{caseID: caseID, subject: subject, expires: now.Add(PrintLinkTTL)}
	return key, linkIssued
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

// printLink answers POST Path+ID+"/print" with the page's one-time address:
// 404 for a case that does not exist (as its file answers), 429 past
// MaxPrintLinksPerUser of the asker's, 503 past MaxPrintLinks in all.
func (s *Service) printLink(w http.ResponseWriter, r *http.Request, by who) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	if err := s.exists(ctx, id); err != nil {
		s.failErr(w, err)
		return
	}
	now := s.opts.Now()
	key, res := s.links.issue(id, by.name, now)
	switch res {
	case linkUser:
		s.m.links.WithLabelValues(linkUser).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(PrintLinkTTL/time.Second)))
		s.fail(w, http.StatusTooManyRequests, "too_many",
			"you have "+strconv.Itoa(MaxPrintLinksPerUser)+" print links open; use them or try again in a minute")
		return
	case linkFull:
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

// exists is nil when the case id is in the record, ErrNotFound when not.
func (s *Service) exists(ctx context.Context, id string) error {
	conn, err := s.db(ctx)
	if err != nil {
		return err
	}
	rows, err := store.ReadCases(ctx, conn, s.opts.Schema, "case_id = "+store.Quote(id), 1)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return ErrNotFound
	}
	return nil
}
