package enforce

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestListByCaseAndEnabled: GET /v1/levers?case_id= gives that case's
// levers only, and every answer says which kinds this board approves and
// their durations, so that a console offers only a form that can work.
func TestListByCaseAndEnabled(t *testing.T) {
	b, err := Open(Options{Config: Config{DenyPublish: true, DefaultDuration: 24 * time.Hour, MaxDuration: 48 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"case-7", "case-8", "case-7"} {
		r := denyReq("host-" + c)
		r.CaseID = c
		if _, err := b.Approve(r, lead); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	b.Register(mux, func(http.ResponseWriter, *http.Request, string) (Actor, bool) { return moderator, true })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	list := func(query string) listAnswer {
		t.Helper()
		resp, err := http.Get(srv.URL + Path + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v listAnswer
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", query, resp.StatusCode, err)
		}
		return v
	}
	all := list("")
	if len(all.Levers) != 3 || !slices.Equal(all.Enabled, []string{KindDenyPublish}) ||
		time.Duration(all.DefaultDuration) != 24*time.Hour || time.Duration(all.MaxDuration) != 48*time.Hour {
		t.Fatalf("all: %+v", all)
	}
	if got := list("?case_id=case-7"); len(got.Levers) != 2 || got.Levers[0].CaseID != "case-7" || got.Levers[1].CaseID != "case-7" {
		t.Fatalf("case-7: %+v", got.Levers)
	}
	if got := list("?case_id=case-none"); got.Levers == nil || len(got.Levers) != 0 {
		t.Fatalf("a case with none: %+v (want an empty list, not null)", got.Levers)
	}
	off, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := off.Enabled(); e == nil || len(e) != 0 {
		t.Fatalf("off by default, enabled %v", e)
	}
}

// TestLiftIsALeadsOverHTTP: a lift is refused to a moderator by the board
// itself, even behind an Authorize that admits anyone signed in (the lift
// route asks it for a lead; the board does not rely on that alone).
func TestLiftIsALeadsOverHTTP(t *testing.T) {
	b, err := Open(Options{Config: Config{DenyPublish: true, DefaultDuration: time.Hour, MaxDuration: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Approve(denyReq("host-1"), lead)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	b.Register(mux, func(http.ResponseWriter, *http.Request, string) (Actor, bool) { return moderator, true })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+Path+"/"+l.ID+"/lift", "application/json", strings.NewReader(`{"reason":"not mine to lift"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a moderator's lift: %d, want 403", resp.StatusCode)
	}
	if got := b.List(); len(got) != 1 || !got[0].LiftedAt.IsZero() {
		t.Fatalf("the lever after a moderator's lift: %+v", got)
	}
}
