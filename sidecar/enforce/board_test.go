package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/outbound"
)

var (
	lead      = Actor{Name: "lead-ana", Role: RoleLead}
	moderator = Actor{Name: "mod-bo", Role: "moderator"}
	secret    = []byte("payout-hold-secret-0123456789abcdef")
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func denyReq(ids ...string) Request {
	r := Request{Kind: KindDenyPublish, CaseID: "case-7", AlertID: "al-1", Reason: "ring of case-7"}
	for _, id := range ids {
		kind := EntityHost
		if strings.HasPrefix(id, "dev") {
			kind = EntityDevice
		}
		r.Entities = append(r.Entities, Entity{Kind: kind, ID: id})
	}
	return r
}

func TestDenyPublishLifecycle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)}
	var audit []AuditRecord
	path := filepath.Join(t.TempDir(), "levers.json")
	open := func() *Board {
		b, err := Open(Options{Config: Config{DenyPublish: true}, Path: path, Now: clk.now,
			Audit: func(a AuditRecord) { audit = append(audit, a) }})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if _, err := b.Approve(denyReq("host-1"), moderator); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a moderator approved: %v", err)
	}
	l, err := b.Approve(Request{Kind: KindDenyPublish, CaseID: "case-7", Reason: "r", For: Duration(time.Hour),
		Entities: []Entity{{Kind: EntityHost, ID: "host-1"}, {Kind: EntityDevice, ID: "dev-9"}}}, lead)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, device string
		deny         bool
	}{{"host-1", "", true}, {"host-2", "dev-9", true}, {"host-2", "dev-1", false}, {"", "", false}, {"dev-9", "", false}} {
		if _, got := b.DenyPublish(c.host, c.device); got != c.deny {
			t.Errorf("DenyPublish(%q, %q) = %v, want %v", c.host, c.device, got, c.deny)
		}
	}
	// A restart keeps the lever.
	b = open()
	if id, deny := b.DenyPublish("host-1", ""); !deny || id != l.ID {
		t.Fatalf("after reopening: %q %v", id, deny)
	}
	// It ends by itself.
	clk.add(time.Hour)
	if _, deny := b.DenyPublish("host-1", ""); deny {
		t.Fatal("an expired lever still denies")
	}
	clk.add(-time.Minute)
	if _, err := b.Lift(l.ID, lead, "mistaken identity"); err != nil {
		t.Fatal(err)
	}
	if _, deny := b.DenyPublish("host-1", ""); deny {
		t.Fatal("a lifted lever still denies")
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action+":"+a.Actor)
	}
	if got := strings.Join(actions, ","); got != "lever_approve:lead-ana,lever_lift:lead-ana" {
		t.Fatalf("audit %s", got)
	}
}

func TestOffByDefault(t *testing.T) {
	b, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Approve(denyReq("host-1"), lead); !errors.Is(err, ErrDisabled) {
		t.Fatalf("deny_publish approved while off: %v", err)
	}
	if _, err := b.Approve(Request{Kind: KindPayoutHold, CaseID: "c", Reason: "r",
		Entities: []Entity{{Kind: EntityAccount, ID: "acct"}}}, lead); !errors.Is(err, ErrDisabled) {
		t.Fatalf("payout_hold approved without an endpoint: %v", err)
	}
	if _, deny := b.DenyPublish("host-1", "dev"); deny {
		t.Fatal("denied while off")
	}
}

func TestRequestLimits(t *testing.T) {
	b, err := Open(Options{Config: Config{DenyPublish: true, MaxEntities: 2, MaxDuration: 48 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Request{
		"no entities":    {Kind: KindDenyPublish, CaseID: "c", Reason: "r"},
		"too many":       denyReq("host-1", "host-2", "host-3"),
		"no case":        {Kind: KindDenyPublish, Reason: "r", Entities: []Entity{{EntityHost, "h"}}},
		"no reason":      {Kind: KindDenyPublish, CaseID: "c", Entities: []Entity{{EntityHost, "h"}}},
		"account":        {Kind: KindDenyPublish, CaseID: "c", Reason: "r", Entities: []Entity{{EntityAccount, "a"}}},
		"too long":       {Kind: KindDenyPublish, CaseID: "c", Reason: "r", For: Duration(49 * time.Hour), Entities: []Entity{{EntityHost, "h"}}},
		"unknown kind":   {Kind: "ban", CaseID: "c", Reason: "r", Entities: []Entity{{EntityHost, "h"}}},
		"id over limits": {Kind: KindDenyPublish, CaseID: strings.Repeat("c", 129), Reason: "r", Entities: []Entity{{EntityHost, "h"}}},
	} {
		if _, err := b.Approve(r, lead); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestDamagedStateMovedAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "levers.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"levers":[{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b, err := Open(Options{Config: Config{DenyPublish: true}, Path: path, Registerer: reg})
	if err != nil {
		t.Fatalf("a damaged state file stopped the start: %v", err)
	}
	if len(b.List()) != 0 {
		t.Fatal("levers from a damaged file")
	}
	if _, err := os.Stat(path + ".damaged"); err != nil {
		t.Fatalf("not moved aside: %v", err)
	}
	if _, err := b.Approve(denyReq("host-1"), lead); err != nil {
		t.Fatalf("approving after a damaged start: %v", err)
	}
}

// platform is a real HTTP server standing in for the platform's payout-hold
// endpoint: it verifies the signature and keeps each idempotency key once.
type platform struct {
	mu    sync.Mutex
	fail  int // answer 503 to this many calls first
	calls int
	kept  map[string]callback
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if err := outbound.Verify(secret, r.Header.Get(outbound.TimestampHeader), r.Header.Get(outbound.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if p.fail > 0 {
		p.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get(outbound.IdempotencyHeader)
	if _, dup := p.kept[key]; dup {
		http.Error(w, "delivered twice", http.StatusConflict)
		return
	}
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.kept[key] = cb
}

func TestPayoutHoldDeliveredOnceAcrossRestart(t *testing.T) {
	p := &platform{fail: 2, kept: map[string]callback{}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "levers.json")
	var audit []string
	open := func() *Board {
		c, err := outbound.New(outbound.Config{URL: srv.URL, BreakerFailures: 5}, outbound.Options{Name: "payout_hold", Secret: secret,
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(Options{Path: path, Payout: c, Audit: func(a AuditRecord) { audit = append(audit, a.Action) }})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	l, err := b.Approve(Request{Kind: KindPayoutHold, CaseID: "case-7", Reason: "beneficiary of the ring",
		Entities: []Entity{{Kind: EntityAccount, ID: "acct-op"}, {Kind: EntityHost, ID: "host-1"}}}, lead)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b.deliverPending(ctx)
	if got, _ := b.Get(l.ID); !got.HoldDelivered {
		t.Fatalf("hold not delivered: %+v", got)
	}
	// A restart sends nothing again.
	b = open()
	b.deliverPending(ctx)
	if p.calls != 3 || len(p.kept) != 1 {
		t.Fatalf("platform saw %d calls, kept %v: want 3 calls (2 refused), one hold", p.calls, p.kept)
	}
	hold := p.kept[l.ID+"/hold"]
	if hold.Type != "payout_hold" || hold.CaseID != "case-7" || strings.Join(hold.Accounts, ",") != "acct-op,host-1" {
		t.Fatalf("hold %+v", hold)
	}
	if _, err := b.Lift(l.ID, lead, "cleared"); err != nil {
		t.Fatal(err)
	}
	b.deliverPending(ctx)
	b = open()
	b.deliverPending(ctx)
	if rel, ok := p.kept[l.ID+"/release"]; !ok || rel.Type != "payout_release" || len(p.kept) != 2 {
		t.Fatalf("release not kept once: %v", p.kept)
	}
	if got := strings.Join(audit, ","); got != "lever_approve,payout_hold_delivered,lever_lift,payout_release_delivered" {
		t.Fatalf("audit %s", got)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"kind":"deny_publish","case_id":"c","entities":[{"kind":"host","id":"h"}],"reason":"r","for":"72h"}`))
	f.Add([]byte(`{"kind":"payout_hold","case_id":"c","entities":[],"reason":""}`))
	f.Add([]byte(`{"for":"-1h"}`))
	f.Add([]byte(`{} {}`))
	b, err := Open(Options{Config: Config{DenyPublish: true}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		l, err := b.Approve(req, lead)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrDisabled) && !errors.Is(err, ErrFull) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if l.Until.Sub(l.ApprovedAt) > b.o.Config.MaxDuration || len(l.Entities) > b.o.Config.MaxEntities {
			t.Fatalf("lever beyond limits: %+v", l)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"levers":[{"id":"lv-1","kind":"deny_publish","entities":[{"kind":"host","id":"h"}],"until":"2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"levers":[{"id":"a","kind":"deny_publish"},{"id":"a","kind":"deny_publish"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		levers, err := decodeState(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range levers {
			if l.ID == "" || seen[l.ID] {
				t.Fatal("a missing or repeated id passed")
			}
			seen[l.ID] = true
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	f.Add([]byte(`{"levers":[{"id":"lv-1","kind":"deny_publish","entities":[{"kind":"host","id":"h"}],"until":"2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"levers":null}`))
	f.Add([]byte(`{"levers":[{"id":"","kind":"payout_hold"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		levers, err := DecodeList(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		b, err := Open(Options{Config: Config{DenyPublish: true, MaxActive: 4}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.mirror(levers); err != nil {
			t.Fatal(err)
		}
		if n := len(b.List()); n > 4 {
			t.Fatalf("%d levers mirrored past max_active", n)
		}
	})
}

// A payout endpoint that stays down is audited at every failed round, but
// only its first failure and the delivery are changes of state (Repeat
// false), which is what consoles hear of; a release that fails after the
// hold was delivered starts failing anew.
func TestPayoutHoldFailuresRepeat(t *testing.T) {
	p := &platform{fail: 3, kept: map[string]callback{}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	c, err := outbound.New(outbound.Config{URL: srv.URL, MaxAttempts: 1, BreakerFailures: 100}, outbound.Options{Name: "payout_hold", Secret: secret,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	b, err := Open(Options{Payout: c, Audit: func(a AuditRecord) {
		s := a.Action
		if a.Repeat {
			s += "(repeat)"
		}
		audit = append(audit, s)
	}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Approve(Request{Kind: KindPayoutHold, CaseID: "case-7", Reason: "beneficiary of the ring",
		Entities: []Entity{{Kind: EntityAccount, ID: "acct-op"}}}, lead)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 4 {
		b.deliverPending(ctx)
	}
	if _, err := b.Lift(l.ID, lead, "cleared"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.fail = 2
	p.mu.Unlock()
	for range 3 {
		b.deliverPending(ctx)
	}
	want := "lever_approve,payout_hold_failed,payout_hold_failed(repeat),payout_hold_failed(repeat),payout_hold_delivered," +
		"lever_lift,payout_release_failed,payout_release_failed(repeat),payout_release_delivered"
	if got := strings.Join(audit, ","); got != want {
		t.Fatalf("audit\n  %s\nwant\n  %s", got, want)
	}
	if got, _ := b.Get(l.ID); !got.HoldDelivered || !got.ReleaseDelivered || got.Failed != "" {
		t.Fatalf("lever %+v", got)
	}
}
