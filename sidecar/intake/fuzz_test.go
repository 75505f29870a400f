package intake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// FuzzHandler throws random bodies and headers at the request path: it must
// never panic and always answer a JSON object with a 2xx, 4xx or 5xx status.
// With sign set the fuzzer's body is signed correctly, so that it reaches
// decoding, dedup and the sink; busy makes the sink say ErrBusy.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(chat("f1")+"\n"+chat("f1")+"\n{\"bad\n"), "", "k1", "", "", true, false)
	f.Add([]byte(chat("f2")), "gzip", "k1", "", "", true, false)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), "gzip", "k1", "", "", true, false)
	f.Add([]byte(chat("f3")), "", "k2", "1700000000", "sha256=00", false, false)
	f.Add([]byte(chat("f4")), "", "k1", "", "", true, true)
	f.Add([]byte("[1]\n\n{}\n"), "identity", "nokey", "-1", "sha256=", false, false)
	// Paths of issue 10: an unknown key with a well-formed signature (the
	// answer of a bad one), an empty signed batch, a timestamp past the
	// future side of the window, a list of tiny tags (counted apart from
	// its text in the memory budget).
	f.Add([]byte(chat("f5")), "", "k9", "1700000000", "sha256="+strings.Repeat("ab", 32), false, false)
	f.Add([]byte("\n\n"), "", "k1", "", "", true, false)
	f.Add([]byte(chat("f6")), "", "k1", "1700000031", "sha256="+strings.Repeat("00", 32), false, false)
	f.Add([]byte(`{"id":"f7","type":"stream.start","at":"2025-06-02T13:05:00Z","stream_id":"s1","host_id":"h1","tags":["","","a"]}`+"\n"), "", "k1", "", "", true, false)

	now := time.Unix(1_700_000_000, 0)
	h, err := NewHandler(Options{
		Keys:            map[string][]byte{"k1": key1, "k2": key2},
		Sink:            func(context.Context, []event.Event) error { return nil },
		Now:             func() time.Time { return now },
		MaxBodyBytes:    1 << 16,
		MaxDecodedBytes: 1 << 18,
		MaxLines:        1000,
		RateRequests:    -1, // the clock stands still
	})
	if err != nil {
		f.Fatal(err)
	}
	busy, err := NewHandler(Options{
		Keys:         map[string][]byte{"k1": key1, "k2": key2},
		Sink:         func(context.Context, []event.Event) error { return ErrBusy },
		Now:          func() time.Time { return now },
		RateRequests: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, ce, keyID, ts, sig string, sign, sinkBusy bool) {
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		req.Header.Set(wire.HeaderKey, keyID)
		req.Header.Set(wire.HeaderTimestamp, ts)
		req.Header.Set(wire.HeaderSignature, sig)
		if sign {
			wire.Sign(req, "k1", key1, body, now)
		}
		target := h
		if sinkBusy {
			target = busy
		}
		w := httptest.NewRecorder()
		target.ServeHTTP(w, req)
		if c := w.Code; c < 200 || c >= 600 || c/100 == 3 {
			t.Fatalf("status %d", c)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
			t.Fatalf("Content-Length %s for %s bytes", got, want)
		}
		var obj map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
			t.Fatalf("status %d: answer is not a JSON object: %v: %q", w.Code, err, w.Body.Bytes())
		}
		if w.Code == 200 {
			for _, k := range []string{"accepted", "duplicates", "rejected", "unknown"} {
				if _, ok := obj[k]; !ok {
					t.Fatalf("answer without %q: %s", k, w.Body.Bytes())
				}
			}
		} else if s, _ := obj["error"].(string); s == "" {
			t.Fatalf("status %d without an error: %s", w.Code, w.Body.Bytes())
		}
		if (w.Code == 429 || w.Code == 503) && w.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d without Retry-After", w.Code)
		}
		if used, _ := target.mem.stats(); used != 0 {
			t.Fatalf("%d bytes of the memory budget still held after the answer", used)
		}
	})
}

// FuzzWSBatch feeds message sequences (split on NUL) to one socket's batch
// handling, the parser of outside input of the websocket intake, without
// the network: header, seq rules, busy mode, limits, decoding, dedup and
// the Sink (busy for message i when bit i of busyMask is set). Every
// message gets exactly one answer or a protocol fault (after which the
// socket is closed), every answer is one the client's parser takes, and
// acked moves by one exactly when a batch is taken or refused.
func FuzzWSBatch(f *testing.F) {
	f.Add([]byte(wsBatch(1, chat("z1"), chat("z2"))+"\x00"+wsBatch(2, chat("z1"), "{bad")+"\x00"+wsBatch(1)), uint16(0))
	f.Add([]byte(wsBatch(1, chat("z3"))+"\x00"+wsBatch(2, chat("z4"))+"\x00"+wsBatch(1, chat("z3"))+"\x00"+wsBatch(2, chat("z4"))), uint16(1))
	f.Add([]byte(`{"seq":1}`), uint16(0))
	f.Add([]byte("{\"seq\":3}\n"+chat("z5")), uint16(0))
	f.Add([]byte("{\"seq\":1}\n\x1f\x8b\x08\x00"), uint16(0))
	f.Add([]byte("{\"seq\":1,\"gzip\":true}\r\n"+strings.Repeat(chat("z6")+"\n", 30)), uint16(0))
	f.Add([]byte("not json\n"), uint16(0))
	f.Add([]byte(wsBatch(1, `{"id":"z7","type":"stream.start","at":"2025-06-02T13:05:00Z","stream_id":"s1","host_id":"h1","tags":["",""]}`)+"\x00"+wsBatch(2)+"\x00"+wsBatch(3)), uint16(4))
	f.Add([]byte(wsBatch(1, strings.Repeat("x", 5000))), uint16(0))

	var busy atomic.Bool
	h, err := NewHandler(Options{
		Keys: map[string][]byte{"k1": key1},
		Sink: func(context.Context, []event.Event) error {
			if busy.Load() {
				return ErrBusy
			}
			return nil
		},
		Dedup:        event.NewDeduper(time.Hour, 10_000),
		MaxBodyBytes: 4 << 10,
		MaxLines:     20,
		RateEvents:   -1,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	var session atomic.Int64
	f.Fuzz(func(t *testing.T, msgs []byte, busyMask uint16) {
		key := wsSessionKey{keyID: "k1", sender: "fuzz", session: strconv.FormatInt(session.Add(1), 10)}
		sess, _ := h.ws.attach(key)
		defer h.ws.detach(sess, nil)
		c := &wsConn{s: h.ws, keyID: "k1", key: h.keys.Load().get("k1"), sess: sess, kicked: make(chan struct{}),
			hdr: bufio.NewReaderSize(nil, MaxWSHeaderBytes)}
		sess.owner = c
		for i, msg := range bytes.Split(msgs, []byte{0}) {
			if i >= 16 {
				break
			}
			busy.Store(busyMask&(1<<i) != 0)
			before := sess.acked.Load()
			reply, fault, err := c.batch(bytes.NewReader(msg))
			if err != nil {
				t.Fatalf("message %d: read error %v", i, err)
			}
			after := sess.acked.Load()
			if used, _ := h.mem.stats(); used != 0 {
				t.Fatalf("message %d: %d bytes of the memory budget still held", i, used)
			}
			if fault != "" {
				if reply != nil || after != before {
					t.Fatalf("message %d: fault %q with reply %+v, acked %d -> %d", i, fault, reply, before, after)
				}
				return // the socket is closed
			}
			if reply == nil {
				t.Fatalf("message %d: no answer and no fault", i)
			}
			b, err := json.Marshal(reply)
			if err != nil {
				t.Fatal(err)
			}
			m, err := wire.ParseServerMsg(b)
			if err != nil {
				t.Fatalf("message %d: the client cannot read the answer: %v: %s", i, err, b)
			}
			taken := (m.Type == wire.MsgAck && !m.Already) || m.Type == wire.MsgRefused
			switch {
			case taken && (m.Seq != before+1 || after != m.Seq):
				t.Fatalf("message %d: %s of seq %d moved acked %d -> %d", i, m.Type, m.Seq, before, after)
			case !taken && after != before:
				t.Fatalf("message %d: %s moved acked %d -> %d", i, m.Type, before, after)
			case m.Type == wire.MsgBusy && m.RetryAfterMS < 1:
				t.Fatalf("message %d: busy without a delay: %s", i, b)
			case m.Type == wire.MsgAck && m.Already && m.Seq > before:
				t.Fatalf("message %d: already-ack of seq %d past acked %d", i, m.Seq, before)
			}
		}
	})
}

// FuzzWSHandshake throws random queries and signature headers at the
// handshake checks; with sign set the URI is signed correctly, so that the
// parameter checks are reached. A refusal is always a status of the
// contract with a message; an acceptance has valid parameters.
func FuzzWSHandshake(f *testing.F) {
	f.Add("sender=e1&session=s1&nonce=n1", "k1", "", "", true)
	f.Add("sender=e1&sender=e2&session=s1&nonce=n1", "k1", "", "", true)
	f.Add("sender=%zz&session=s1", "k1", "", "", true)
	f.Add("sender=e1&session=s1&nonce="+strings.Repeat("n", 65), "k1", "", "", true)
	f.Add("sender=e1&session=s1&nonce=n2", "k2", "1700000000", "sha256=00", false)
	f.Add("", "", "", "", false)
	f.Add("sender=e1&session=s1&nonce=n3", "k9", "1700000000", "sha256="+strings.Repeat("cd", 32), false)
	f.Add("sender=e1&session=s1&nonce=n4", "k1", "1700000040", "sha256="+strings.Repeat("00", 32), false)

	now := time.Unix(1_700_000_000, 0)
	h, err := NewHandler(Options{
		Keys:         map[string][]byte{"k1": key1, "k2": key2},
		Sink:         func(context.Context, []event.Event) error { return nil },
		Now:          func() time.Time { return now },
		Logger:       slog.New(slog.DiscardHandler),
		RateRequests: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query, keyID, ts, sig string, sign bool) {
		uri := WSPath + "?" + query
		r := &http.Request{
			Method:     http.MethodGet,
			URL:        &url.URL{Path: WSPath, RawQuery: query},
			RequestURI: uri,
			Header: http.Header{
				"Connection":            {"Upgrade"},
				"Upgrade":               {"websocket"},
				"Sec-Websocket-Version": {"13"},
				"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
				wire.HeaderKey:          {keyID},
				wire.HeaderTimestamp:    {ts},
				wire.HeaderSignature:    {sig},
			},
		}
		if sign {
			wire.SignHandshake(r.Header, "k1", key1, uri, now)
		}
		gotKey, p, _, rf := h.wsAccept(r, now)
		if rf != nil {
			switch rf.status {
			case 400, 401, 503:
			default:
				t.Fatalf("status %d", rf.status)
			}
			if rf.msg == "" || rf.reason == "" {
				t.Fatalf("refusal without a message: %+v", rf)
			}
			return
		}
		if !h.keys.Load().has(gotKey) || !wire.ValidID(p.sender) || !wire.ValidID(p.session) || !wire.ValidID(p.nonce) {
			t.Fatalf("accepted key %q params %+v", gotKey.id, p)
		}
	})
}
