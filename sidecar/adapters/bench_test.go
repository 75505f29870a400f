package adapters

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// BenchmarkHookAnswer measures how long a media server waits for its answer
// over a real loopback connection (keep-alive), for a webhook that is taken
// (its events go to a Sink that discards them) and one refused for its
// secret. The reference, measured in the same run, is a handler that answers
// 200 at once on the same kind of server:
//
//	go test -run '^$' -bench BenchmarkHookAnswer -count 5 ./sidecar/adapters/
func BenchmarkHookAnswer(b *testing.B) {
	discard := func(context.Context, []event.Event) error { return nil }
	opts := func() Options {
		return Options{Sink: discard, Now: func() time.Time { return testNow }}
	}
	lkWrong := func(r *http.Request, body []byte) {
		r.Header.Set("Authorization", lkToken(b, jwt.SigningMethodHS256, lkKey, "not-the-secret", body, testNow.Add(time.Minute)))
	}
	type hook struct {
		name string
		newH func(Options) (http.Handler, error)
		body []byte
		sign func(*http.Request, []byte)
	}
	var hooks []hook
	for _, s := range admissionServers(b) {
		hooks = append(hooks,
			hook{s.adapter + "/accepted", s.newH, s.valid, s.sign},
			hook{s.adapter + "/refused", s.newH, s.valid, s.wrong})
	}
	lkBody := fixture(b, "livekit/track_published.json")
	hooks = append(hooks,
		hook{"livekit/accepted", newLiveKitHandler, lkBody, lkSign(b)},
		hook{"livekit/refused", newLiveKitHandler, lkBody, lkWrong})

	b.Run("reference", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		})
		benchAnswer(b, h, lkBody, nil)
	})
	for _, hk := range hooks {
		b.Run(hk.name, func(b *testing.B) {
			h, err := hk.newH(opts())
			if err != nil {
				b.Fatal(err)
			}
			benchAnswer(b, h, hk.body, hk.sign)
		})
	}
}

// benchAnswer posts body to h on a loopback server b.N times, one at a time.
func benchAnswer(b *testing.B, h http.Handler, body []byte, sign func(*http.Request, []byte)) {
	srv := loopback(b, h)
	c := srv.Client()
	// A LiveKit token is valid for minutes: sign once, send it b.N times.
	proto, err := http.NewRequest(http.MethodPost, srv.URL+"/hook", nil)
	if err != nil {
		b.Fatal(err)
	}
	if sign != nil {
		sign(proto, body)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := proto.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		resp, err := c.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
