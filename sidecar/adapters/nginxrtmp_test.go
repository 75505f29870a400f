package adapters

import (
	"net/http"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

const nginxSecret = "nginx-rtmp-secret-0123456"

func newNginxHandler(o Options) (http.Handler, error) {
	return NewNginxRTMP(o, ServerOptions{Secrets: []string{nginxSecret}, HostParam: "host"})
}

// nginxSign puts the secret in the notify URL, as nginx.conf would, and the
// content type nginx-rtmp sends.
func nginxSign(r *http.Request, _ []byte) {
	r.URL.RawQuery = "secret=" + nginxSecret
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
}

// nginxWrong is a notify URL with a secret that is not (or no longer) accepted.
func nginxWrong(r *http.Request, _ []byte) {
	r.URL.RawQuery = "secret=nope-nope-nope-nope"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
}

func TestNginxRTMP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		sign   func(*http.Request, []byte)
		status int
		want   []wantEvent
	}{
		{"publish starts", "publish.form", nginxSign, 200, []wantEvent{{
			typ: event.TypeStreamStart, streamID: "live/studio-dave", hostID: "host-dave", ip: "203.0.113.61", at: testNow}}},
		{"publish_done ends", "publish_done.form", nginxSign, 200, []wantEvent{{
			typ: event.TypeStreamEnd, streamID: "live/studio-dave", at: testNow}}},
		{"play ignored", "play.form", nginxSign, 200, nil},
		{"malformed allowed, not recorded", "malformed.form", nginxSign, 200, nil},
		{"no secret allowed, not recorded", "publish.form", nil, 200, nil},
		{"wrong secret allowed, not recorded", "publish.form", nginxWrong, 200, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHook(t, newNginxHandler, "", "nginx-rtmp/"+tc.file, tc.sign, tc.status, "", tc.want)
		})
	}
}

// TestNginxRTMPSecretNotFromArgs: the publisher's own arguments are in the
// form, so a secret there authenticates nothing (and the publish is still
// allowed).
func TestNginxRTMPSecretNotFromArgs(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := newNginxHandler(testOptions(rec, nil))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("app=live&addr=192.0.2.9&clientid=3&call=publish&name=x&secret=" + nginxSecret)
	if w := post(h, body, nil); w.Code != http.StatusOK {
		t.Fatalf("%d, want 200", w.Code)
	}
	checkEvents(t, rec.events(), nil)
}

func TestNginxRTMPConformance(t *testing.T) {
	t.Parallel()
	conformance{
		adapter:       "nginx_rtmp",
		newH:          newNginxHandler,
		sign:          nginxSign,
		valid:         fixture(t, "nginx-rtmp/publish.form"),
		allowedStatus: 200,
	}.run(t)
}
