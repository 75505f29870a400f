package cases

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/store"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// TestVersionsAndNotesThroughARestart, on a real ClickHouse: an escalation
// opens a case, the same escalation again opens none, a later version of the
// alert is added by Observe, also by a new service that learns from the
// record which alerts have cases; a version of another alert is not; a note
// makes the approval stale.
func TestVersionsAndNotesThroughARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	ch := chtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	schema := store.Options{Database: "cases_t"}
	conn, err := store.Open(ctx, ch.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := store.Migrate(ctx, conn, schema); err != nil {
		t.Fatal(err)
	}
	open := func() *Service {
		s, err := New(Options{DSN: ch.DSN(), Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	at := time.Date(2025, 5, 1, 14, 0, 0, 0, time.UTC)
	alert := func(id string, updates int, ents ...string) analyzer.Alert {
		a := analyzer.Alert{ID: id, At: at.Add(time.Duration(updates) * time.Hour), Severity: analyzer.SeverityHigh, Updates: updates}
		for _, e := range ents {
			a.Entities = append(a.Entities, analyzer.EntityRef{Kind: "host", ID: e})
		}
		return a
	}
	s1 := open()
	var mu sync.Mutex
	var changes []Change // a note's and an approval's, told before Note and Approve return
	s1.SetChanged(func(c Change) {
		if c.What == "version" { // told by Observe's goroutine, whenever it gets there
			return
		}
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	})
	id := ID("al-1")
	for range 2 {
		if err := s1.Open(ctx, alert("al-1", 0, "h1"), "lead", "ring"); err != nil {
			t.Fatal(err)
		}
	}
	s1.Observe(alert("al-1", 1, "h1", "h2"))
	s1.Observe(alert("al-9", 0, "h9"))
	waitVersions := func(s *Service, n int) *Case {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Versions) >= n {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("case has %d versions, want %d", len(c.Versions), n)
			}
			time.Sleep(20 * time.Millisecond) // polling the record for the observer's write
		}
	}
	c := waitVersions(s1, 2)
	list, err := s1.List(ctx)
	if err != nil || len(list) != 1 || list[0].Entities != 1 {
		t.Fatalf("list %+v %v: want one case (opened once) with the entities of its opening", list, err)
	}
	if c.Entities[len(c.Entities)-1].ID != "h2" {
		t.Errorf("entities %+v: the later version names h2", c.Entities)
	}
	if _, err := s1.Approve(ctx, id, "lead", c.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Note(ctx, id, "mod", "one more thing"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Submit(ctx, id, "lead"); err != ErrNotApproved {
		t.Errorf("submit after a note changed the case: %v, want ErrNotApproved", err)
	}
	// The consoles are told of the approval and the note, with the case's
	// status after each; a refused submission tells nothing.
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0].What != "approve" || changes[0].Status != StatusApproved || changes[0].Version != c.Version ||
		changes[1].What != "note" || changes[1].Status != StatusOpen || changes[1].Version != c.Version+1 ||
		changes[1].By != "mod" || changes[0].CaseID != id || changes[1].AlertID != "al-1" {
		t.Errorf("changes told %+v", changes)
	}

	s2 := open() // a restart: it reads which alerts have cases
	told := make(chan Change, 4)
	s2.SetChanged(func(c Change) { told <- c })
	s2.Observe(alert("al-1", 2, "h1", "h2", "h3"))
	c = waitVersions(s2, 3)
	select {
	case ch := <-told: // the new version is told, with the case as it now is
		if ch.What != "version" || ch.CaseID != id || ch.Version != 3+2 || ch.Status != StatusOpen {
			t.Errorf("told %+v, want the version change of %s at version 5", ch, id)
		}
	case <-ctx.Done():
		t.Fatal("the new version was not told")
	}
	if c.Version != 3+2 { // three versions, the escalation's note and one more
		t.Errorf("version %d, want 5", c.Version)
	}
	if _, err := s2.Get(ctx, ID("al-9")); err != ErrNotFound {
		t.Errorf("a version of an alert without a case: %v, want ErrNotFound", err)
	}
}
