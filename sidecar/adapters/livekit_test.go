package adapters

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ronda-watch/ronda/analyzer/event"
)

const (
	lkKey    = "APIxKq3vTn8Lw"
	lkSecret = "s3cr3t-livekit-api-secret-for-tests"
)

// lkToken mints a token the way LiveKit's notifier does: HS256, iss the API
// key, the body's base64 SHA-256 in sha256, valid five minutes.
func lkToken(t testing.TB, method jwt.SigningMethod, key, secret string, body []byte, exp time.Time) string {
	t.Helper()
	sum := sha256.Sum256(body)
	claims := jwt.MapClaims{
		"iss":    key,
		"nbf":    exp.Add(-5 * time.Minute).Unix(),
		"exp":    exp.Unix(),
		"sha256": base64.StdEncoding.EncodeToString(sum[:]),
		"video":  map[string]any{},
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lkSign(t testing.TB) func(*http.Request, []byte) {
	return func(r *http.Request, body []byte) {
		r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, lkKey, lkSecret, body, testNow.Add(5*time.Minute)))
	}
}

func newLiveKitHandler(o Options) (http.Handler, error) {
	return NewLiveKit(o, map[string]string{lkKey: lkSecret, "APIold": "an-older-secret-still-accepted-0123"})
}

func TestLiveKit(t *testing.T) {
	t.Parallel()
	start := wantEvent{typ: event.TypeStreamStart, streamID: "live-4821/host-alice", hostID: "host-alice", at: time.Unix(1748869505, 0)}
	end := func(sec int64) wantEvent {
		return wantEvent{typ: event.TypeStreamEnd, streamID: "live-4821/host-alice", at: time.Unix(sec, 0)}
	}
	expired := func(r *http.Request, body []byte) {
		r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, lkKey, lkSecret, body, testNow.Add(-time.Minute)))
	}
	tests := []struct {
		name   string
		file   string
		sign   func(*http.Request, []byte)
		status int
		want   []wantEvent
	}{
		{"track published starts", "track_published.json", lkSign(t), 200, []wantEvent{start}},
		{"proto names and numbers", "track_published_proto_names.json", lkSign(t), 200, []wantEvent{start}},
		{"participant left ends", "participant_left.json", lkSign(t), 200, []wantEvent{end(1748873105)}},
		{"connection aborted ends", "participant_connection_aborted.json", lkSign(t), 200, []wantEvent{end(1748873110)}},
		{"participant joined ignored", "participant_joined.json", lkSign(t), 200, nil},
		{"agent track ignored", "track_published_agent.json", lkSign(t), 200, nil},
		{"room finished ignored", "room_finished.json", lkSign(t), 200, nil},
		{"bearer form", "track_published.json", func(r *http.Request, body []byte) {
			lkSign(t)(r, body)
			r.Header.Set("Authorization", "Bearer "+r.Header.Get("Authorization"))
		}, 200, []wantEvent{start}},
		{"older key", "track_published.json", func(r *http.Request, body []byte) {
			r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, "APIold", "an-older-secret-still-accepted-0123", body, testNow.Add(time.Minute)))
		}, 200, []wantEvent{start}},
		{"malformed", "malformed.json", lkSign(t), 400, nil},
		{"no authorization", "track_published.json", nil, 401, nil},
		{"wrong secret", "track_published.json", func(r *http.Request, body []byte) {
			r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, lkKey, "not-the-secret", body, testNow.Add(time.Minute)))
		}, 403, nil},
		{"unknown key", "track_published.json", func(r *http.Request, body []byte) {
			r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, "APIunknown", lkSecret, body, testNow.Add(time.Minute)))
		}, 403, nil},
		{"expired", "track_published.json", expired, 403, nil},
		{"other algorithm", "track_published.json", func(r *http.Request, body []byte) {
			r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS384, lkKey, lkSecret, body, testNow.Add(time.Minute)))
		}, 403, nil},
		{"alg none", "track_published.json", func(r *http.Request, body []byte) {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": lkKey, "exp": testNow.Add(time.Minute).Unix()}).
				SignedString(jwt.UnsafeAllowNoneSignatureType)
			r.Header.Set("Authorization", s)
		}, 403, nil},
		{"body of another webhook", "track_published.json", func(r *http.Request, _ []byte) {
			lkSign(t)(r, fixture(t, "livekit/participant_left.json"))
		}, 403, nil},
		{"garbage token", "track_published.json", func(r *http.Request, _ []byte) {
			r.Header.Set("Authorization", "not.a.jwt")
		}, 403, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHook(t, newLiveKitHandler, "", "livekit/"+tc.file, tc.sign, tc.status, "", tc.want)
		})
	}
}

// TestLiveKitIDs: the audio track of a session gives the id of its video
// track, so one broadcast is one stream.start; its end has another id.
func TestLiveKitIDs(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := newLiveKitHandler(testOptions(rec, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"track_published.json", "track_published_audio.json", "participant_left.json"} {
		if w := post(h, fixture(t, "livekit/"+f), lkSign(t)); w.Code != 200 {
			t.Fatalf("%s: %d", f, w.Code)
		}
	}
	evs := rec.events()
	if len(evs) != 3 || evs[0].ID != evs[1].ID || evs[2].ID == evs[0].ID {
		t.Fatalf("ids %q %q %q: want the two tracks alike and the end different", evs[0].ID, evs[1].ID, evs[2].ID)
	}
}

func TestLiveKitConformance(t *testing.T) {
	t.Parallel()
	conformance{
		adapter:       "livekit",
		newH:          newLiveKitHandler,
		sign:          lkSign(t),
		valid:         fixture(t, "livekit/track_published.json"),
		allowedStatus: 200,
	}.run(t)
}

// TestLiveKitRefuses: LiveKit webhooks are not admission, so what the
// handler cannot take is refused, for LiveKit to retry: nothing is recorded
// and each refusal is counted.
func TestLiveKitRefuses(t *testing.T) {
	t.Parallel()
	valid := fixture(t, "livekit/track_published.json")
	tests := []struct {
		name    string
		rec     *recorder
		maxBody int64
		method  string
		body    func() (io.Reader, func())
		status  int
		result  string
	}{
		{name: "GET", method: "GET", status: 405, result: resultBadMethod},
		{name: "too large", maxBody: 64, status: 413, result: resultTooLarge},
		{name: "slow body", status: 408, result: resultSlowBody, body: func() (io.Reader, func()) {
			pr, pw := io.Pipe()
			go pw.Write(valid[:len(valid)/2])
			return pr, func() { pw.Close() }
		}},
		{name: "sink blocks past SinkTimeout", rec: &recorder{block: true}, status: 503, result: resultSinkTimeout},
		{name: "sink fails", rec: &recorder{fail: errors.New("queue full")}, status: 503, result: resultSinkError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tc.rec
			if rec == nil {
				rec = &recorder{}
			}
			reg := prometheus.NewRegistry()
			o := testOptions(rec, reg)
			o.MaxBody = tc.maxBody
			o.SinkTimeout = overrun
			h, err := newLiveKitHandler(o)
			if err != nil {
				t.Fatal(err)
			}
			method, body, after := "POST", io.Reader(bytes.NewReader(valid)), func() {}
			if tc.method != "" {
				method, body = tc.method, nil
			}
			if tc.body != nil {
				body, after = tc.body()
			}
			status, _ := send(t, loopback(t, h), method, body, valid, lkSign(t))
			after()
			if status != tc.status {
				t.Fatalf("answer %d, want %d", status, tc.status)
			}
			if tc.result != resultSinkError && tc.result != resultSinkTimeout {
				checkEvents(t, rec.events(), nil)
			}
			wantCount(t, reg, "livekit", tc.result, 1)
		})
	}
}

// TestLiveKitKeyRotation: keys replaced while webhooks arrive (go test
// -race): a key in both maps always verifies; an empty map is refused and
// the keys in use stay.
func TestLiveKitKeyRotation(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := NewLiveKit(testOptions(rec, nil), map[string]string{lkKey: lkSecret, "APIold": "an-older-secret-still-accepted-0123"})
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]string{lkKey: lkSecret, "APInew": "a-newer-secret-now-accepted-0123456"}
	prev := map[string]string{lkKey: lkSecret, "APIold": "an-older-secret-still-accepted-0123"}
	body := fixture(t, "livekit/track_published.json")
	stop := make(chan struct{})
	var rotator sync.WaitGroup
	rotator.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := h.SetKeys([]map[string]string{next, prev}[i%2]); err != nil {
				t.Error(err)
				return
			}
			runtime.Gosched()
		}
	})
	var senders sync.WaitGroup
	for range 2 {
		senders.Go(func() {
			for range 50 {
				if w := post(h, body, lkSign(t)); w.Code != 200 {
					t.Errorf("key in both maps: %d", w.Code)
				}
			}
		})
	}
	senders.Wait()
	close(stop)
	rotator.Wait()
	if n := len(rec.events()); n != 100 {
		t.Fatalf("%d events, want 100", n)
	}
	if err := h.SetKeys(next); err != nil {
		t.Fatal(err)
	}
	if err := h.SetKeys(map[string]string{}); err == nil {
		t.Fatal("an empty key map was accepted")
	}
	oldKey := func(r *http.Request, b []byte) {
		r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, "APIold", "an-older-secret-still-accepted-0123", b, testNow.Add(time.Minute)))
	}
	if w := post(h, body, oldKey); w.Code != 403 {
		t.Fatalf("a key no longer configured: %d, want 403", w.Code)
	}
	newKey := func(r *http.Request, b []byte) {
		r.Header.Set("Authorization", lkToken(t, jwt.SigningMethodHS256, "APInew", "a-newer-secret-now-accepted-0123456", b, testNow.Add(time.Minute)))
	}
	if w := post(h, body, newKey); w.Code != 200 {
		t.Fatalf("the new key: %d, want 200", w.Code)
	}
}
