package adapters

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
	"github.com/ronda-watch/ronda/sidecar/enforce"
)

// TestDecide: decide refuses only an authentic stream.start that the Gate
// refuses; everything else, a panicking Gate included, is allowed.
func TestDecide(t *testing.T) {
	t.Parallel()
	start := event.Event{Type: event.TypeStreamStart, HostID: "host-under-case"}
	end := event.Event{Type: event.TypeStreamEnd}
	refuse := func(ev *event.Event) bool { return ev.HostID == "host-under-case" }
	tests := []struct {
		name      string
		gate      func(*event.Event) bool
		authentic bool
		evs       []event.Event
		deny      bool
	}{
		{"no gate", nil, true, []event.Event{start}, false},
		{"unauthentic", refuse, false, []event.Event{start}, false},
		{"authentic start refused", refuse, true, []event.Event{start}, true},
		{"an end is never refused", func(*event.Event) bool { return true }, true, []event.Event{end}, false},
		{"another host", refuse, true, []event.Event{{Type: event.TypeStreamStart, HostID: "host-free"}}, false},
		{"panicking gate allows", func(*event.Event) bool { panic("boom") }, true, []event.Event{start}, false},
		{"nothing mapped", refuse, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(&recorder{}, nil)
			o.Gate = tc.gate
			b, err := newBase("test", o)
			if err != nil {
				t.Fatal(err)
			}
			if d := b.decide(tc.authentic, tc.evs); d.deny != tc.deny {
				t.Fatalf("deny %v, want %v", d.deny, tc.deny)
			}
		})
	}
}

// TestGateAnswers: a refused start is answered in each server's refusal
// form and recorded with an end at the same instant.
func TestGateAnswers(t *testing.T) {
	t.Parallel()
	gate := func(ev *event.Event) bool { return ev.HostID == "host-carol" }
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	o := testOptions(rec, reg)
	o.Gate = gate
	h, err := newOMEHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "ome/incoming_opening.json")
	status, answer := send(t, loopback(t, h), "POST", bytes.NewReader(body), body, omeSign)
	if status != 200 || answer != `{"allowed":false,"reason":"refused by Ronda"}` {
		t.Fatalf("OME answer %d %q, want the refusal", status, answer)
	}
	evs := rec.events()
	if len(evs) != 2 || evs[0].Type != event.TypeStreamStart || evs[1].Type != event.TypeStreamEnd ||
		evs[1].Reason != "refused_by_lever" || !evs[1].At.Equal(evs[0].At) || evs[1].ID == evs[0].ID {
		t.Fatalf("recorded %+v, want the start and its refused end", evs)
	}
	if n := counted(t, reg, "ome", resultDenied); n != 1 {
		t.Fatalf("denied counted %v, want 1", n)
	}
}

// TestLeverDeniesRealPublish: Debian's nginx-rtmp with on_publish pointed
// at Ronda and a lead's deny_publish lever on one host: that host's ffmpeg
// is refused, another host broadcasts; lifting the lever lets the first
// back in. This is the one deliberate refusal; with the lever off
// (deny_publish false) the same host passes.
func TestLeverDeniesRealPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx and ffmpeg")
	}
	nginxtest.Need(t)
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("deny_publish=%v", on), func(t *testing.T) {
			t.Parallel()
			board, err := enforce.Open(enforce.Options{Config: enforce.Config{DenyPublish: on}})
			if err != nil {
				t.Fatal(err)
			}
			lead := enforce.Actor{Name: "lead-ana", Role: enforce.RoleLead}
			if on {
				if _, err := board.Approve(enforce.Request{Kind: enforce.KindDenyPublish, CaseID: "case-1",
					Entities: []enforce.Entity{{Kind: enforce.EntityHost, ID: "host-denied"}}, Reason: "ring under case-1"}, lead); err != nil {
					t.Fatal(err)
				}
			} else if _, err := board.Approve(enforce.Request{Kind: enforce.KindDenyPublish, CaseID: "case-1",
				Entities: []enforce.Entity{{Kind: enforce.EntityHost, ID: "host-denied"}}, Reason: "x"}, lead); err == nil {
				t.Fatal("a deny_publish lever was approved with deny_publish off")
			}
			rec := &recorder{}
			o := testOptions(rec, prometheus.NewRegistry())
			o.Now = time.Now
			o.Gate = func(ev *event.Event) bool {
				_, deny := board.DenyPublish(ev.HostID, ev.DeviceID)
				return deny
			}
			h, err := newNginxHandler(o)
			if err != nil {
				t.Fatal(err)
			}
			hook := loopback(t, h).URL + "/hooks/nginx-rtmp?secret=" + nginxSecret
			rtmp := nginxtest.Start(t, nginxtest.Options{RTMPConf: fmt.Sprintf("on_publish %s;\non_publish_done %s;", hook, hook)})
			denied := nginxtest.Publish(t, rtmp, "studio-a?host=host-denied", 2).Err(t)
			free := nginxtest.Publish(t, rtmp, "studio-b?host=host-free", 2).Err(t)
			if free != nil {
				t.Fatalf("a host under no lever was refused: %v", free)
			}
			if on != (denied != nil) {
				t.Fatalf("host-denied publish error %v; want refused %v", denied, on)
			}
			if !on {
				return
			}
			var refusedEnd bool
			for _, ev := range rec.events() {
				refusedEnd = refusedEnd || (ev.StreamID == "live/studio-a" && ev.Reason == "refused_by_lever")
			}
			if !refusedEnd {
				t.Fatalf("the refused attempt is not recorded: %+v", rec.events())
			}
			lv := board.List()[0]
			if _, err := board.Lift(lv.ID, enforce.Actor{Name: "mod-bo", Role: "moderator"}, "no"); err == nil {
				t.Fatal("a moderator lifted a lever")
			}
			if _, err := board.Lift(lv.ID, lead, "case closed"); err != nil {
				t.Fatal(err)
			}
			if err := nginxtest.Publish(t, rtmp, "studio-a?host=host-denied", 2).Err(t); err != nil {
				t.Fatalf("after the lift the host is still refused: %v", err)
			}
		})
	}
}
