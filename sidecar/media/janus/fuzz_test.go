package janus

import (
	"strings"
	"testing"
)

// Seeds are answers as Janus 1.1.2 gives them (recorded from the real
// server of janus_real_test.go, ids shortened) and broken variants.
var (
	eventSeeds = []string{
		`{"janus":"keepalive"}`,
		`[{"janus":"event","session_id":1,"sender":2,"transaction":"r1","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"attached","room":1234,"streams":[{"type":"audio","mindex":0,"mid":"0","feed_id":7}]}},"jsep":{"type":"offer","sdp":"v=0\r\n"}}]`,
		`[{"janus":"trickle","session_id":1,"sender":2,"candidate":{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 2015363327 127.0.0.2 40000 typ host"}},{"janus":"trickle","session_id":1,"sender":2,"candidate":{"completed":true}}]`,
		`[{"janus":"webrtcup","session_id":1,"sender":2},{"janus":"media","session_id":1,"sender":2,"mid":"0","type":"audio","receiving":true},{"janus":"hangup","session_id":1,"sender":2,"reason":"DTLS alert"}]`,
		`{"janus":"error","error":{"code":458,"reason":"No such session 1"}}`,
		`[{"janus":"event","sender":2,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"left":"ok"}}}]`,
		`[{"janus":"event","sender":2,"jsep":{"type":"pranswer","sdp":""}}]`,
		`[1,2]`, `[]`, `{}`, `null`, `{"janus":`, "",
	}
	roomSeeds = []string{
		`{"videoroom":"success","list":[{"room":1234,"description":"Ronda test room","pin_required":false,"is_private":false,"max_publishers":6,"num_participants":2},{"room":"lobby"}]}`,
		`{"videoroom":"event","error_code":423,"error":"Unauthorized (wrong admin_key)"}`,
		`{"videoroom":"success","list":null}`, `{"videoroom":"success","list":[{"room":-1},{"room":1e3},{"room":18446744073709551616}]}`, `{"list":[]}`, `[]`,
	}
	participantSeeds = []string{
		`{"videoroom":"participants","room":1234,"participants":[{"id":8146414977489448,"display":"host-a","publisher":true,"talking":false},{"id":7,"publisher":false}]}`,
		`{"videoroom":"event","error_code":426,"error":"No such room (99)"}`,
		`{"videoroom":"participants","participants":[{"id":"abc","publisher":true},{"publisher":true},{"id":0,"publisher":true}]}`,
		`{"videoroom":"success"}`, `{"videoroom":1}`,
	}
	candidateSeeds = []string{
		`{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 2015363327 127.0.0.2 40000 typ host"}`,
		`{"completed":true}`, `{"sdpMLineIndex":70000}`, `{}`, `"x"`,
	}
)

func FuzzDecodeEvents(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeEvents(b)
		if err != nil {
			if len(evs) != 0 {
				t.Fatalf("events with an error: %v", evs)
			}
			return
		}
		for _, m := range evs {
			if m.Janus == "" {
				t.Fatalf("event without a kind from %q", b)
			}
			if m.Jsep != nil && m.Jsep.Type != "offer" && m.Jsep.Type != "answer" {
				t.Fatalf("jsep type %q accepted", m.Jsep.Type)
			}
		}
	})
}

func FuzzDecodeRooms(f *testing.F) {
	for _, s := range roomSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rooms, err := decodeRooms(b)
		if err != nil && rooms != nil {
			t.Fatalf("rooms with an error")
		}
		for _, r := range rooms {
			if r == 0 {
				t.Fatalf("room 0 from %q", b)
			}
		}
	})
}

func FuzzDecodePublishers(f *testing.F) {
	for _, s := range participantSeeds {
		f.Add([]byte(s))
	}
	m, err := Mapping{DisplayPattern: `^(?P<host>[a-z0-9-]+)(/(?P<stream>.+))?$`}.compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pubs, err := decodePublishers(b)
		if err != nil && pubs != nil {
			t.Fatalf("publishers with an error")
		}
		for _, p := range pubs {
			if p.ID == 0 {
				t.Fatalf("publisher 0 from %q", b)
			}
			if f, ok := m.feed(1, p); ok && (f.StreamID == "" || f.Host == "") {
				t.Fatalf("feed without stream or host: %+v", f)
			}
		}
	})
}

func FuzzDecodeCandidate(f *testing.F) {
	for _, s := range candidateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCandidate(b)
		if err == nil && !c.Completed && c.Candidate == "" {
			t.Fatalf("empty candidate accepted from %q", b)
		}
	})
}

func TestDecodeSeeds(t *testing.T) {
	t.Parallel()
	evs, err := decodeEvents([]byte(eventSeeds[1]))
	if err != nil || len(evs) != 1 || evs[0].Sender != 2 || evs[0].Jsep == nil || evs[0].Jsep.Type != "offer" {
		t.Fatalf("offer event: %+v, %v", evs, err)
	}
	if _, err := decodeEvents([]byte(eventSeeds[6])); err == nil || !strings.Contains(err.Error(), "pranswer") {
		t.Errorf("pranswer: %v", err)
	}
	rooms, err := decodeRooms([]byte(roomSeeds[0]))
	if err != nil || len(rooms) != 1 || rooms[0] != 1234 {
		t.Errorf("rooms %v, %v; want [1234] (the string room skipped)", rooms, err)
	}
	if _, err := decodeRooms([]byte(roomSeeds[1])); err == nil || !strings.Contains(err.Error(), "423") {
		t.Errorf("plugin error: %v", err)
	}
	pubs, err := decodePublishers([]byte(participantSeeds[0]))
	if err != nil || len(pubs) != 1 || pubs[0].ID != 8146414977489448 || pubs[0].Display != "host-a" {
		t.Errorf("publishers %+v, %v", pubs, err)
	}
	pubs, err = decodePublishers([]byte(participantSeeds[2]))
	if err != nil || len(pubs) != 0 {
		t.Errorf("bad ids: %+v, %v; want none", pubs, err)
	}
}
