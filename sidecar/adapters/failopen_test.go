package adapters

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// admissionServer is one adapter whose webhook gates a publish, as the
// fail-open tests see it.
type admissionServer struct {
	adapter   string
	newH      func(Options) (http.Handler, error)
	sign      func(*http.Request, []byte) // the right secret
	wrong     func(*http.Request, []byte) // a secret not accepted
	valid     []byte                      // a stream start
	malformed []byte
	allow     string // the body of the allow answer
}

func admissionServers(t testing.TB) []admissionServer {
	return []admissionServer{
		{"nginx_rtmp", newNginxHandler, nginxSign, nginxWrong,
			fixture(t, "nginx-rtmp/publish.form"), fixture(t, "nginx-rtmp/malformed.form"), ""},
		{"srs", newSRSHandler, srsSign, srsWrong,
			fixture(t, "srs/on_publish.json"), fixture(t, "srs/malformed.json"), "0"},
		{"ome", newOMEHandler, omeSign, omeWrong,
			fixture(t, "ome/incoming_opening.json"), fixture(t, "ome/malformed.json"), `{"allowed":true}`},
	}
}

// testBase reaches the base of a handler, to fill its Sink slots.
func (b *base) testBase() *base { return b }

// loopback serves h on a real loopback listener for the test.
func loopback(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request to srv, signed by sign (over signed, the whole
// body, when body streams) and returns the answer's status and body.
func send(t testing.TB, srv *httptest.Server, method string, body io.Reader, signed []byte,
	sign func(*http.Request, []byte)) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, srv.URL+"/hook", body)
	if err != nil {
		t.Fatal(err)
	}
	if sign != nil {
		sign(r, signed)
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestAdmissionFailsOpen: whatever happens inside Ronda, an admission hook
// answers its server's allow form over a real loopback connection; a request
// that fails authentication or cannot be read records nothing; each is
// counted with its result.
func TestAdmissionFailsOpen(t *testing.T) {
	t.Parallel()
	type request struct {
		method string
		body   io.Reader
		signed []byte
		sign   func(*http.Request, []byte)
	}
	tests := []struct {
		name    string
		rec     func() *recorder
		maxBody int64
		stuck   bool // every Sink slot taken by calls that overran
		overrun bool // the case waits for SinkTimeout to pass
		req     func(s admissionServer) (request, func())
		result  string
		events  int
	}{
		{name: "right secret", result: resultEmitted, events: 1,
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
		{name: "wrong secret", result: resultUnauthorized,
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.wrong}, nil
			}},
		{name: "missing secret", result: resultUnauthorized,
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, nil}, nil
			}},
		{name: "malformed body", result: resultBadRequest,
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.malformed), s.malformed, s.sign}, nil
			}},
		{name: "too large", maxBody: 64, result: resultTooLarge,
			req: func(s admissionServer) (request, func()) {
				b := append(bytes.Repeat([]byte(" "), 100), s.valid...)
				return request{"POST", bytes.NewReader(b), b, s.sign}, nil
			}},
		{name: "GET", result: resultBadMethod,
			req: func(s admissionServer) (request, func()) {
				return request{"GET", nil, nil, s.sign}, nil
			}},
		{name: "slow body", result: resultSlowBody, overrun: true,
			// Half the body, and the rest only once the answer is in: the
			// answer cannot have waited for the body.
			req: func(s admissionServer) (request, func()) {
				pr, pw := io.Pipe()
				go pw.Write(s.valid[:len(s.valid)/2])
				return request{"POST", pr, s.valid, s.sign}, func() { pw.Close() }
			}},
		{name: "sink blocks past SinkTimeout", result: resultSinkTimeout, overrun: true,
			rec: func() *recorder { return &recorder{block: true} },
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
		{name: "sink ignores its context", result: resultSinkTimeout, overrun: true,
			rec: func() *recorder { return &recorder{hold: make(chan struct{})} },
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
		{name: "sink fails", result: resultSinkError,
			rec: func() *recorder { return &recorder{fail: errors.New("queue full")} },
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
		{name: "sink panics", result: resultSinkError,
			rec: func() *recorder { return &recorder{panics: true} },
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
		{name: "sink stuck", stuck: true, result: resultSinkStuck,
			req: func(s admissionServer) (request, func()) {
				return request{"POST", bytes.NewReader(s.valid), s.valid, s.sign}, nil
			}},
	}
	for _, s := range admissionServers(t) {
		for _, tc := range tests {
			t.Run(s.adapter+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				rec := &recorder{}
				if tc.rec != nil {
					rec = tc.rec()
				}
				if rec.hold != nil {
					defer close(rec.hold)
				}
				reg := prometheus.NewRegistry()
				o := testOptions(rec, reg)
				o.MaxBody = tc.maxBody
				if tc.overrun {
					o.SinkTimeout = overrun
				}
				h, err := s.newH(o)
				if err != nil {
					t.Fatal(err)
				}
				if tc.stuck {
					b := h.(interface{ testBase() *base }).testBase()
					for range cap(b.slots) {
						b.slots <- struct{}{}
					}
				}
				srv := loopback(t, h)
				req, after := tc.req(s)
				status, body := send(t, srv, req.method, req.body, req.signed, req.sign)
				if after != nil {
					after()
				}
				if status != http.StatusOK || body != s.allow {
					t.Fatalf("answer %d %q, want 200 %q", status, body, s.allow)
				}
				if tc.events == 0 {
					checkEvents(t, rec.events(), nil)
				} else if n := len(rec.events()); n != tc.events {
					t.Fatalf("%d events recorded, want %d", n, tc.events)
				}
				wantCount(t, reg, s.adapter, tc.result, 1)
			})
		}
	}
}

// TestOMEClosingFailsOpen: a closing is answered {}, the form
// OvenMediaEngine expects for it, even when its signature fails; a body
// whose status cannot be read gets {"allowed":true}.
func TestOMEClosingFailsOpen(t *testing.T) {
	t.Parallel()
	closing := fixture(t, "ome/incoming_closing.json")
	tests := []struct {
		name string
		body []byte
		sign func(*http.Request, []byte)
		want string
	}{
		{"signed closing", closing, omeSign, `{}`},
		{"closing, wrong signature", closing, omeWrong, `{}`},
		{"closing, no signature", closing, nil, `{}`},
		{"closing, truncated", closing[:len(closing)/2], omeSign, `{"allowed":true}`},
		{"not JSON", []byte("<xml/>"), omeSign, `{"allowed":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h, err := newOMEHandler(testOptions(rec, nil))
			if err != nil {
				t.Fatal(err)
			}
			status, body := send(t, loopback(t, h), "POST", bytes.NewReader(tc.body), tc.body, tc.sign)
			if status != 200 || body != tc.want {
				t.Fatalf("answer %d %q, want 200 %q", status, body, tc.want)
			}
			if tc.sign == nil || tc.want != `{}` || strings.Contains(tc.name, "wrong") {
				checkEvents(t, rec.events(), nil)
			}
		})
	}
}

// TestAnswerForms: each server writes a decision in its own form (decide
// itself: gate_test.go).
func TestAnswerForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answer  func(http.ResponseWriter, decision, bool)
		d       decision
		closing bool
		status  int
		body    string
	}{
		{"nginx-rtmp allow", nginxAnswer, decision{}, false, 200, ""},
		{"nginx-rtmp deny", nginxAnswer, decision{deny: true}, false, 403, "publish refused\n"},
		{"srs allow", srsAnswer, decision{}, false, 200, "0"},
		{"srs deny", srsAnswer, decision{deny: true}, false, 403, "publish refused\n"},
		{"ome allow", omeAnswer, decision{}, false, 200, `{"allowed":true}`},
		{"ome closing", omeAnswer, decision{}, true, 200, `{}`},
		{"ome deny", omeAnswer, decision{deny: true}, false, 200, `{"allowed":false,"reason":"refused by Ronda"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			tc.answer(w, tc.d, tc.closing)
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Body, tc.status, tc.body)
			}
		})
	}
}

// lockedBuffer is a log destination safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.FieldsFunc(l.b.String(), func(r rune) bool { return r == '\n' })
}

// TestRefusalLogThrottled: a media server with a wrong secret sends a hook
// per publish; the log gets one line a minute per result, the next one
// saying how many were held back, and never the secret sent.
func TestRefusalLogThrottled(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	o := testOptions(&recorder{}, reg)
	o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	h, err := newNginxHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "nginx-rtmp/publish.form")
	bad := func(n int) {
		for range n {
			if w := post(h, body, nginxWrong); w.Code != 200 {
				t.Fatalf("wrong secret: %d", w.Code)
			}
		}
	}
	bad(50)
	if l := logs.lines(); len(l) != 1 || strings.Contains(l[0], "suppressed") || !strings.Contains(l[0], "result=unauthorized") {
		t.Fatalf("after 50 bad requests, log %q: want one line", l)
	}
	// Another kind of trouble is not held back by the first.
	post(h, fixture(t, "nginx-rtmp/malformed.form"), nginxSign)
	if l := logs.lines(); len(l) != 2 || !strings.Contains(l[1], "result=bad_request") {
		t.Fatalf("a malformed body after them: log %q", l)
	}
	now.Add(int64(30 * time.Second))
	bad(1)
	if l := logs.lines(); len(l) != 2 {
		t.Fatalf("30s later: log %q, want no new line", l)
	}
	now.Add(int64(31 * time.Second))
	bad(1)
	l := logs.lines()
	if len(l) != 3 || !strings.Contains(l[2], "suppressed=50") || !strings.Contains(l[2], "result=unauthorized") {
		t.Fatalf("a minute later: log %q, want a third line with suppressed=50", l)
	}
	for _, line := range l {
		if strings.Contains(line, "nope-nope") || strings.Contains(line, nginxSecret) {
			t.Fatalf("a secret in the log: %q", line)
		}
	}
	wantCount(t, reg, "nginx_rtmp", resultUnauthorized, 52)
}

// TestSecretRotation: secrets replaced while requests run (go test -race).
// A secret in both the old and the new set is always taken, one in neither
// never; every answer allows; a bad set is refused and the old one stays.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	const (
		both  = "secret-in-both-sets-0001"
		old   = "secret-old-only-000000002"
		fresh = "secret-new-only-000000003"
		never = "secret-never-valid-00004"
	)
	setA, setB := []string{old, both}, []string{both, fresh}
	nginxBody := func(label string, i int) []byte {
		return fmt.Appendf(nil, "call=publish&app=live&name=%s&addr=192.0.2.1&clientid=%d", label, i)
	}
	srsBody := func(label string, i int) []byte {
		return fmt.Appendf(nil, `{"action":"on_publish","client_id":"%d","ip":"192.0.2.1","vhost":"__defaultVhost__","app":"live","stream":"%s"}`, i, label)
	}
	omeBody := func(label string, i int) []byte {
		return fmt.Appendf(nil, `{"client":{"address":"192.0.2.1","port":%d},"request":{"direction":"incoming","protocol":"rtmp","status":"opening","url":"rtmp://ingest/live/%s","time":"2025-06-02T13:05:00Z"}}`, 1000+i, label)
	}
	query := func(secret string) func(*http.Request, []byte) {
		return func(r *http.Request, _ []byte) { r.URL.RawQuery = "secret=" + secret }
	}
	type rotating interface {
		http.Handler
		SetSecrets([]string) error
	}
	tests := []struct {
		name string
		newH func(Options, ServerOptions) (rotating, error)
		body func(label string, i int) []byte
		sign func(secret string) func(*http.Request, []byte)
	}{
		{"nginx_rtmp", func(o Options, s ServerOptions) (rotating, error) { return NewNginxRTMP(o, s) }, nginxBody, query},
		{"srs", func(o Options, s ServerOptions) (rotating, error) { return NewSRS(o, s) }, srsBody, query},
		{"ome", func(o Options, s ServerOptions) (rotating, error) { return NewOME(o, s) }, omeBody,
			func(secret string) func(*http.Request, []byte) {
				return func(r *http.Request, b []byte) { r.Header.Set("X-OME-Signature", omeSig(secret, b)) }
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h, err := tc.newH(testOptions(rec, nil), ServerOptions{Secrets: setA})
			if err != nil {
				t.Fatal(err)
			}
			const perWorker = 50
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := h.SetSecrets([][]string{setA, setB}[i%2]); err != nil {
						t.Error(err)
						return
					}
					runtime.Gosched()
				}
			})
			var requests sync.WaitGroup
			for _, label := range []string{"both", "never", "old", "fresh"} {
				secret := map[string]string{"both": both, "never": never, "old": old, "fresh": fresh}[label]
				requests.Go(func() {
					for i := range perWorker {
						b := tc.body(label, i)
						if w := post(h, b, tc.sign(secret)); w.Code != 200 {
							t.Errorf("%s: answer %d", label, w.Code)
						}
					}
				})
			}
			requests.Wait()
			close(stop)
			wg.Wait()
			got := map[string]int{}
			for _, ev := range rec.events() {
				got[ev.StreamID[strings.LastIndex(ev.StreamID, "/")+1:]]++
			}
			if got["both"] != perWorker || got["never"] != 0 {
				t.Fatalf("recorded %v: want every %d of both, none of never", got, perWorker)
			}
			// Settle on B: old is refused, fresh taken; a short secret is
			// refused and B stays.
			if err := h.SetSecrets(setB); err != nil {
				t.Fatal(err)
			}
			if err := h.SetSecrets([]string{"short"}); err == nil {
				t.Fatal("a short secret was accepted")
			}
			if err := h.SetSecrets(nil); err == nil {
				t.Fatal("no secrets were accepted")
			}
			before := len(rec.events())
			post(h, tc.body("old", 999), tc.sign(old))
			post(h, tc.body("fresh", 999), tc.sign(fresh))
			if evs := rec.events()[before:]; len(evs) != 1 || !strings.HasSuffix(evs[0].StreamID, "/fresh") {
				t.Fatalf("after settling on the new set: %+v, want only fresh", evs)
			}
		})
	}
}

// TestAdmitPanic: a bug in a handler's own parsing still answers allow, and
// records nothing.
func TestAdmitPanic(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	b, err := newBase("srs", testOptions(rec, reg))
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.admit(w, r, func(*http.Request, []byte) (mapped, error) { panic("parser bug") }, srsAnswer)
	})
	body := fixture(t, "srs/on_publish.json")
	if status, got := send(t, loopback(t, h), "POST", bytes.NewReader(body), body, srsSign); status != 200 || got != "0" {
		t.Fatalf("answer %d %q, want 200 0", status, got)
	}
	checkEvents(t, rec.events(), nil)
	wantCount(t, reg, "srs", resultPanic, 1)
}
