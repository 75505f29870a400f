package adapters

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

const omeSecret = "ome-admission-secret-0123"

func newOMEHandler(o Options) (http.Handler, error) {
	return NewOME(o, ServerOptions{Secrets: []string{omeSecret}, HostParam: "host"})
}

func omeSig(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func omeSign(r *http.Request, body []byte) { r.Header.Set("X-OME-Signature", omeSig(omeSecret, body)) }

// omeWrong signs with a key that is not (or no longer) accepted.
func omeWrong(r *http.Request, body []byte) {
	r.Header.Set("X-OME-Signature", omeSig("another-secret-0000000", body))
}

func TestOME(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name   string
		file   string
		sign   func(*http.Request, []byte)
		status int
		body   string
		want   []wantEvent
	}{
		{"incoming opening starts", "incoming_opening.json", omeSign, 200, `{"allowed":true}`, []wantEvent{{
			typ: event.TypeStreamStart, streamID: "app/stream-4821", hostID: "host-carol", ip: "203.0.113.43", at: at("2025-06-02T13:05:00Z")}}},
		{"incoming closing ends", "incoming_closing.json", omeSign, 200, `{}`, []wantEvent{{
			typ: event.TypeStreamEnd, streamID: "app/stream-4821", at: at("2025-06-02T14:10:30Z")}}},
		{"srt streamid", "srt_opening.json", omeSign, 200, `{"allowed":true}`, []wantEvent{{
			typ: event.TypeStreamStart, streamID: "app/stream-77", hostID: "stream-77", ip: "192.0.2.44", at: at("2025-06-02T13:06:00Z")}}},
		{"padded signature", "incoming_opening.json", func(r *http.Request, body []byte) {
			m := hmac.New(sha1.New, []byte(omeSecret))
			m.Write(body)
			r.Header.Set("X-OME-Signature", base64.URLEncoding.EncodeToString(m.Sum(nil)))
		}, 200, `{"allowed":true}`, []wantEvent{{
			typ: event.TypeStreamStart, streamID: "app/stream-4821", hostID: "host-carol", ip: "203.0.113.43", at: at("2025-06-02T13:05:00Z")}}},
		{"outgoing allowed and ignored", "outgoing_opening.json", omeSign, 200, `{"allowed":true}`, nil},
		{"malformed allowed, not recorded", "malformed.json", omeSign, 200, `{"allowed":true}`, nil},
		{"time outside RFC 3339 allowed, not mapped", "year_zero.json", omeSign, 200, `{"allowed":true}`, nil},
		{"no signature allowed, not recorded", "incoming_opening.json", nil, 200, `{"allowed":true}`, nil},
		{"wrong secret allowed, not recorded", "incoming_opening.json", omeWrong, 200, `{"allowed":true}`, nil},
		{"wrong secret on closing answered {}, not recorded", "incoming_closing.json", omeWrong, 200, `{}`, nil},
		{"signature of another body allowed, not recorded", "incoming_opening.json", func(r *http.Request, _ []byte) {
			r.Header.Set("X-OME-Signature", omeSig(omeSecret, fixture(t, "ome/incoming_closing.json")))
		}, 200, `{"allowed":true}`, nil},
		{"signature not base64 allowed, not recorded", "incoming_opening.json", func(r *http.Request, _ []byte) {
			r.Header.Set("X-OME-Signature", "***")
		}, 200, `{"allowed":true}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHook(t, newOMEHandler, "", "ome/"+tc.file, tc.sign, tc.status, tc.body, tc.want)
		})
	}
}

func TestOMEConformance(t *testing.T) {
	t.Parallel()
	conformance{
		adapter:       "ome",
		newH:          newOMEHandler,
		sign:          omeSign,
		valid:         fixture(t, "ome/incoming_opening.json"),
		allowedStatus: 200,
	}.run(t)
}
