package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the API's requests.
const (
	// MaxRequestBytes bounds a request body (a note, an approval).
	MaxRequestBytes = 16 << 10
	// MaxNoteBytes bounds a note, as the hub bounds its notes.
	MaxNoteBytes = 4096
	// requestTimeout bounds the record's work for one read or note.
	requestTimeout = 30 * time.Second
	// submitTimeout bounds one submission: every route, every retry.
	submitTimeout = 5 * time.Minute
)

var idRe = regexp.MustCompile(`^case-[0-9a-f]{20}$`)

// Handler serves the cases API under Path:
//
//	GET  /v1/cases/               the cases, newest first (viewer)
//	GET  /v1/cases/{id}           the case file as JSON (viewer)
//	GET  /v1/cases/{id}/page      the printable page (viewer, or ?link= from /print)
//	POST /v1/cases/{id}/print     a one-time link to the page, for a new window (viewer)
//	POST /v1/cases/{id}/notes     {"note": "..."} (moderator)
//	POST /v1/cases/{id}/approve   {"version": N}: a lead approves that version
//	POST /v1/cases/{id}/submit    send the approved version down every route (lead)
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"{$}", s.auth(RoleViewer, s.list))
	mux.HandleFunc("GET "+Path+"{id}", s.auth(RoleViewer, s.get))
	page := s.auth(RoleViewer, s.pageOf)
	mux.HandleFunc("GET "+Path+"{id}/page", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("link") {
			s.pageByLink(w, r)
			return
		}
		page(w, r)
	})
	mux.HandleFunc("POST "+Path+"{id}/print", s.auth(RoleViewer, s.printLink))
	mux.HandleFunc("POST "+Path+"{id}/notes", s.auth(RoleModerator, change(s, DecodeNote, s.Note)))
	mux.HandleFunc("POST "+Path+"{id}/approve", s.auth(RoleLead, change(s, DecodeApproval, s.Approve)))
	mux.HandleFunc("POST "+Path+"{id}/submit", s.auth(RoleLead, s.submit))
	return mux
}

type who struct{ name, role string }

// auth admits a request with a token of at least need, then checks the id.
func (s *Service) auth(need string, h func(http.ResponseWriter, *http.Request, who)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if s.opts.Authenticate == nil {
			s.fail(w, http.StatusServiceUnavailable, "unavailable", "no tokens configured")
			return
		}
		name, role, ok := s.opts.Authenticate(w, r)
		if !ok {
			return // answered and counted by the hub
		}
		if !s.roleAtLeast(role, need) {
			s.fail(w, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s may not do this (needs %s)", role, need))
			return
		}
		if id := r.PathValue("id"); id != "" && !idRe.MatchString(id) {
			s.fail(w, http.StatusNotFound, "not_found", "not a case id")
			return
		}
		h(w, r, who{name, role})
	}
}

func (s *Service) roleAtLeast(role, need string) bool {
	if s.opts.RoleAtLeast != nil {
		return s.opts.RoleAtLeast(role, need)
	}
	rank := map[string]int{RoleViewer: 1, RoleModerator: 2, RoleLead: 3}
	return rank[role] > 0 && rank[role] >= rank[need]
}

func (s *Service) list(w http.ResponseWriter, r *http.Request, _ who) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	cs, err := s.List(ctx)
	if err != nil {
		s.failErr(w, err)
		return
	}
	s.json(w, http.StatusOK, struct {
		Cases []Summary `json:"cases"`
	}{cs})
}

func (s *Service) get(w http.ResponseWriter, r *http.Request, _ who) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	c, err := s.Get(ctx, r.PathValue("id"))
	if err != nil {
		s.failErr(w, err)
		return
	}
	s.json(w, http.StatusOK, c)
}

func (s *Service) pageOf(w http.ResponseWriter, r *http.Request, _ who) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	c, err := s.Get(ctx, r.PathValue("id"))
	if err != nil {
		s.failErr(w, err)
		return
	}
	b, err := s.page.Render(c)
	if err != nil {
		s.opts.Logger.Error("case page", "case", c.ID, "err", err)
		s.fail(w, http.StatusInternalServerError, "error", "the page could not be rendered")
		return
	}
	w.Header().Set("Content-Security-Policy", s.page.CSP())
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.m.requests.WithLabelValues("ok").Inc()
	w.Write(b)
}

// change handles a POST that changes the case the path names: the bounded
// body decoded (400 when it does not decode), then act, answered with the
// case as it now is.
func change[T any](s *Service, decode func([]byte) (T, error),
	act func(ctx context.Context, id, by string, v T) (*Case, error)) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, by who) {
		b, ok := s.body(w, r)
		if !ok {
			return
		}
		v, err := decode(b)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		c, err := act(ctx, r.PathValue("id"), by.name, v)
		if err != nil {
			s.failErr(w, err)
			return
		}
		s.json(w, http.StatusOK, c)
	}
}

func (s *Service) submit(w http.ResponseWriter, r *http.Request, by who) {
	// The submission goes on if the lead's connection drops: what was
	// started is recorded either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), submitTimeout)
	defer cancel()
	out, err := s.Submit(ctx, r.PathValue("id"), by.name)
	if err != nil {
		s.failErr(w, err)
		return
	}
	s.json(w, http.StatusOK, struct {
		Outcomes []Outcome `json:"outcomes"`
	}{out})
}

// body reads a bounded request body.
func (s *Service) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "bad_request", fmt.Sprintf("body over %d bytes or unreadable", MaxRequestBytes))
		return nil, false
	}
	return b, true
}

func (s *Service) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	s.m.requests.WithLabelValues("ok").Inc()
	json.NewEncoder(w).Encode(v)
}

// failErr maps the service's errors to statuses.
func (s *Service) failErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.fail(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrNotApproved), errors.Is(err, ErrStale), errors.Is(err, ErrBusy), errors.Is(err, ErrNoRoutes):
		s.fail(w, http.StatusConflict, "conflict", err.Error())
	default:
		s.opts.Logger.Warn("cases request failed", "err", err)
		s.fail(w, http.StatusServiceUnavailable, "unavailable", "the record could not be read or written; try again")
	}
}

func (s *Service) fail(w http.ResponseWriter, status int, outcome, msg string) {
	s.m.requests.WithLabelValues(outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// DecodeNote reads a note request: a JSON object with exactly one member,
// "note", a string of 1 to MaxNoteBytes bytes of UTF-8 without control
// characters other than newline and tab.
func DecodeNote(b []byte) (string, error) {
	var v struct {
		Note *string `json:"note"`
	}
	if err := strict(b, &v); err != nil {
		return "", err
	}
	if v.Note == nil || strings.TrimSpace(*v.Note) == "" {
		return "", errors.New("note: required")
	}
	n := *v.Note
	if len(n) > MaxNoteBytes || !utf8.ValidString(n) {
		return "", fmt.Errorf("note: at most %d bytes of UTF-8", MaxNoteBytes)
	}
	for _, r := range n {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", errors.New("note: control characters other than newline and tab")
		}
	}
	return n, nil
}

// DecodeApproval reads an approval request: empty, {} or {"version": N}
// naming the version the lead read (0 or absent: the current one).
func DecodeApproval(b []byte) (int, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return 0, nil
	}
	var v struct {
		Version *int64 `json:"version"`
	}
	if err := strict(b, &v); err != nil {
		return 0, err
	}
	if v.Version == nil {
		return 0, nil
	}
	if *v.Version < 0 || *v.Version > 1<<30 {
		return 0, errors.New("version: out of range")
	}
	return int(*v.Version), nil
}

// strict decodes one JSON object, unknown members refused, nothing after it.
func strict(b []byte, v any) error {
	if len(b) > MaxRequestBytes {
		return fmt.Errorf("body over %d bytes", MaxRequestBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if d.More() {
		return errors.New("body: more than one JSON value")
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("body: trailing data")
	}
	return nil
}
