package media

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

const testToken = "publisher-token-for-tests"

type whipEnv struct {
	srv     *httptest.Server
	tap     *Tap
	whip    *WHIP
	pubAPI  *webrtc.API
	reports *reports
	reg     *prometheus.Registry
	cut     func()
	client  *http.Client
}

// newWHIPEnv serves a WHIP endpoint over HTTP on loopback whose peer
// connections are on a virtual network with the test publishers.
func newWHIPEnv(t *testing.T, cfg Config, wo WHIPOptions) *whipEnv {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last
	pubAPI, recvAPI, stopNet, cut := vnetPairCut(t)
	e := &whipEnv{pubAPI: pubAPI, reports: newReports(), reg: prometheus.NewRegistry(), cut: cut}
	var err error
	if e.tap, err = New(Options{Config: cfg, OnReport: e.reports.add, Registerer: e.reg}); err != nil {
		t.Fatal(err)
	}
	wo.Tap, wo.API, wo.Registerer = e.tap, recvAPI, e.reg
	wo.Authorize = func(tok string) (string, bool) { return "test", tok == testToken }
	if e.whip, err = NewWHIP(wo); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.whip)
	e.client = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		e.srv.Close()
		e.whip.Close()
		e.tap.Close()
		stopNet()
	})
	return e
}

func (e *whipEnv) do(t *testing.T, method, path, ctype, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestWHIPPublish: a pion publisher POSTs its offer, gets 201 with the answer
// and a Location, broadcasts, and DELETE on the Location ends the session.
func TestWHIPPublish(t *testing.T) {
	e := newWHIPEnv(t, Config{ReportEvery: time.Second}, WHIPOptions{})
	p := mediatest.NewPublisher(t, e.pubAPI, webrtc.MimeTypeVP8)
	defer p.PC.Close()
	resp, answer := e.do(t, http.MethodPost, WHIPPath+"live-42", "application/sdp", testToken, p.Offer(t))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/sdp" {
		t.Fatalf("POST: %s %s", resp.Status, answer)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, WHIPPath+"live-42/") {
		t.Fatalf("Location %q", loc)
	}
	p.Answer(t, answer)
	p.Send(context.Background(), t, 2500*time.Millisecond)
	if resp, body := e.do(t, http.MethodPatch, loc, "application/trickle-ice-sdpfrag", testToken, "a=candidate:1"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %s %s, want 405 (no trickle ICE)", resp.Status, body)
	}
	if resp, _ := e.do(t, http.MethodDelete, loc, "", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("DELETE without token: %s", resp.Status)
	}
	if resp, body := e.do(t, http.MethodDelete, loc, "", testToken, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %s %s", resp.Status, body)
	}
	if resp, _ := e.do(t, http.MethodDelete, loc, "", testToken, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %s, want 404", resp.Status)
	}
	reps := e.reports.list()
	last := reps[len(reps)-1]
	if last.State != StateEnded || last.StreamID != "live-42" || last.Kind != KindWHIP {
		t.Fatalf("last report %+v", last)
	}
	var video *TrackFacts
	for _, r := range reps {
		for i, f := range r.Tracks {
			if r.State == StateLive && f.Kind == "video" && f.Width > 0 {
				video = &r.Tracks[i]
			}
		}
	}
	if video == nil || video.Width != 1280 || video.Height != 720 {
		t.Fatalf("no video facts of 1280x720 in %+v", reps)
	}
	if got := testutil.ToFloat64(e.whip.reqs.WithLabelValues("POST", whipCreated)); got != 1 {
		t.Errorf("created counted %v", got)
	}
}

// av1Offer offers only AV1, which the tap does not read.
const av1Offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtpmap:45 AV1/90000\r\n"

// TestWHIPRefusals: every bad request gets its status and a readable reason,
// and makes no session.
func TestWHIPRefusals(t *testing.T) {
	e := newWHIPEnv(t, Config{}, WHIPOptions{MaxOfferBytes: 4096})
	for _, c := range []struct {
		name, method, path, ctype, token, body string
		code                                   int
		reason                                 string
	}{
		{"no token", "POST", WHIPPath + "s", "application/sdp", "", av1Offer, 401, "missing bearer token"},
		{"bad token", "POST", WHIPPath + "s", "application/sdp", "nope", av1Offer, 401, "invalid token"},
		{"json body", "POST", WHIPPath + "s", "application/json", testToken, "{}", 415, "application/sdp"},
		{"malformed sdp", "POST", WHIPPath + "s", "application/sdp", testToken, "hello, not sdp", 400, "malformed SDP"},
		{"no media", "POST", WHIPPath + "s", "application/sdp", testToken, "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n", 400, "no media section"},
		{"only AV1", "POST", WHIPPath + "s", "application/sdp", testToken, av1Offer, 422, "no codec offered"},
		{"too large", "POST", WHIPPath + "s", "application/sdp", testToken, av1Offer + strings.Repeat("a=x:y\r\n", 1000), 413, "offer over 4096 bytes"},
		{"bad stream id", "POST", WHIPPath + "a%20b", "application/sdp", testToken, av1Offer, 400, "stream id"},
		{"get", "GET", WHIPPath + "s", "", testToken, "", 405, "method not allowed"},
		{"unknown session", "DELETE", WHIPPath + "s/0123", "", testToken, "", 404, "no such session"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.method, c.path, c.ctype, c.token, c.body)
			var eb whipError
			if resp.StatusCode != c.code || json.Unmarshal([]byte(body), &eb) != nil || !strings.Contains(eb.Error, c.reason) {
				t.Fatalf("%s %s: %s %s; want %d with %q", c.method, c.path, resp.Status, body, c.code, c.reason)
			}
			if c.name == "only AV1" && (len(eb.Offered) != 1 || eb.Offered[0] != "video/AV1" || len(eb.Supported) != 3) {
				t.Errorf("unsupported codec body %s", body)
			}
		})
	}
	if n := e.tap.Sessions(); n != 0 {
		t.Fatalf("%d sessions after refusals", n)
	}
}

// TestWHIPFlood: a flood of offers is held to the offer rate (429 with
// Retry-After) and the sessions to MaxSessions (503 with Retry-After), each
// counted; nothing is left running.
func TestWHIPFlood(t *testing.T) {
	e := newWHIPEnv(t, Config{MaxSessions: 2}, WHIPOptions{OffersPerSecond: 0.01, OfferBurst: 3})
	var pubs []*mediatest.Publisher
	var offers []string
	for range 3 {
		p := mediatest.NewPublisher(t, e.pubAPI, webrtc.MimeTypeVP8)
		defer p.PC.Close()
		pubs = append(pubs, p)
		offers = append(offers, p.Offer(t))
	}
	codes := map[int]int{}
	for i := range 3 {
		resp, _ := e.do(t, http.MethodPost, WHIPPath+"s", "application/sdp", testToken, offers[i])
		codes[resp.StatusCode]++
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.do(t, http.MethodPost, WHIPPath+"s", "application/sdp", testToken, offers[0])
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}()
	}
	wg.Wait()
	if codes[201] != 2 || codes[503] != 1 || codes[429] != 50 {
		t.Fatalf("answers %v; want 2 created, 1 busy (max 2 sessions), 50 rate limited", codes)
	}
	if n := e.tap.Sessions(); n != 2 {
		t.Fatalf("%d sessions", n)
	}
	if got := testutil.ToFloat64(e.whip.reqs.WithLabelValues("POST", whipRateLimited)); got != 50 {
		t.Errorf("rate_limited counted %v", got)
	}
}

// TestWHIPAbruptDisconnect: a publisher that vanishes without DELETE (its
// packets stop on the network) has its session ended and its connection
// closed when ICE fails, with an ended report.
func TestWHIPAbruptDisconnect(t *testing.T) {
	e := newWHIPEnv(t, Config{ReportEvery: time.Second}, WHIPOptions{})
	p := mediatest.NewPublisher(t, e.pubAPI, webrtc.MimeTypeVP8)
	resp, answer := e.do(t, http.MethodPost, WHIPPath+"gone", "application/sdp", testToken, p.Offer(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s %s", resp.Status, answer)
	}
	p.Answer(t, answer)
	p.Send(context.Background(), t, time.Second)
	// The publisher's machine is gone: no close, no DELETE.
	e.cut()
	for e.tap.Sessions() != 0 {
		select {
		case <-e.reports.ch:
		case <-time.After(30 * time.Second):
			t.Fatal("session not ended 30 s after its publisher vanished")
		}
	}
	reps := e.reports.list()
	if last := reps[len(reps)-1]; last.State != StateEnded || last.End.IsZero() {
		t.Fatalf("last report %+v", last)
	}
	p.PC.Close()
}

// FuzzCheckOffer: any offer body gets an answer of the documented codes,
// never a panic; one taken names a codec the tap reads.
func FuzzCheckOffer(f *testing.F) {
	f.Add([]byte(av1Offer))
	f.Add([]byte(strings.Replace(av1Offer, "AV1/90000", "VP8/90000", 1)))
	f.Add([]byte("v=0\r\n"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, result, msg, _ := checkOffer(b)
		switch code {
		case 0:
			if !strings.Contains(strings.ToLower(string(b)), "vp8") && !strings.Contains(strings.ToLower(string(b)), "h264") &&
				!strings.Contains(strings.ToLower(string(b)), "opus") {
				t.Fatalf("taken without a codec the tap reads: %q", b)
			}
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			if result == "" || msg == "" {
				t.Fatalf("refused without a reason: %d", code)
			}
		default:
			t.Fatalf("code %d", code)
		}
	})
}
