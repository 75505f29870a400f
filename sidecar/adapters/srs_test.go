package adapters

import (
	"net/http"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

const srsSecret = "srs-shared-secret-0123456789"

func newSRSHandler(o Options) (http.Handler, error) {
	return NewSRS(o, ServerOptions{Secrets: []string{srsSecret, "srs-previous-secret-abcdef"}, HostParam: "host"})
}

// srsSign puts the secret in the callback URL, as srs.conf would.
func srsSign(r *http.Request, _ []byte) { r.URL.RawQuery = "secret=" + srsSecret }

// srsWrong is a callback URL with a secret that is not (or no longer) accepted.
func srsWrong(r *http.Request, _ []byte) { r.URL.RawQuery = "secret=guess-guess-guess-guess" }

func TestSRS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		node   string
		sign   func(*http.Request, []byte)
		status int
		body   string
		want   []wantEvent
	}{
		{"on_publish starts", "on_publish.json", "", srsSign, 200, "0", []wantEvent{{
			typ: event.TypeStreamStart, streamID: "live/livestream", hostID: "host-alice", ip: "203.0.113.10", at: testNow, node: "vid-0xk989d"}}},
		{"configured node wins", "on_publish.json", "edge-7", srsSign, 200, "0", []wantEvent{{
			typ: event.TypeStreamStart, streamID: "live/livestream", hostID: "host-alice", ip: "203.0.113.10", at: testNow, node: "edge-7"}}},
		{"on_unpublish ends", "on_unpublish.json", "", srsSign, 200, "0", []wantEvent{{
			typ: event.TypeStreamEnd, streamID: "live/livestream", at: testNow, node: "vid-0xk989d"}}},
		{"SRS 4 numeric client_id, vhost, no host param", "on_publish_v4.json", "", srsSign, 200, "0", []wantEvent{{
			typ: event.TypeStreamStart, streamID: "video.test.com/live/livestream", hostID: "livestream", ip: "192.0.2.10", at: testNow}}},
		{"on_play ignored", "on_play.json", "", srsSign, 200, "0", nil},
		{"secret in header", "on_publish.json", "", func(r *http.Request, _ []byte) { r.Header.Set(SecretHeader, "srs-previous-secret-abcdef") }, 200, "0", []wantEvent{{
			typ: event.TypeStreamStart, streamID: "live/livestream", hostID: "host-alice", ip: "203.0.113.10", at: testNow, node: "vid-0xk989d"}}},
		{"malformed allowed, not recorded", "malformed.json", "", srsSign, 200, "0", nil},
		{"no secret allowed, not recorded", "on_publish.json", "", nil, 200, "0", nil},
		{"wrong secret allowed, not recorded", "on_publish.json", "", srsWrong, 200, "0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHook(t, newSRSHandler, tc.node, "srs/"+tc.file, tc.sign, tc.status, tc.body, tc.want)
		})
	}
}

// TestSRSSecretNotFromParam: a broadcaster who writes secret= in its own
// stream URL does not authenticate a forged callback (which is still
// answered 0: see the package comment).
func TestSRSSecretNotFromParam(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := newSRSHandler(testOptions(rec, nil))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"action":"on_publish","client_id":"x1","ip":"192.0.2.1","vhost":"__defaultVhost__","app":"live","stream":"s","param":"?secret=` + srsSecret + `"}`)
	if w := post(h, body, nil); w.Code != http.StatusOK || w.Body.String() != "0" {
		t.Fatalf("%d %q, want 200 0", w.Code, w.Body)
	}
	checkEvents(t, rec.events(), nil)
}

func TestSRSConformance(t *testing.T) {
	t.Parallel()
	conformance{
		adapter:       "srs",
		newH:          newSRSHandler,
		sign:          srsSign,
		valid:         fixture(t, "srs/on_publish.json"),
		allowedStatus: 200,
	}.run(t)
}
