package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// testNow is the clock of every test: after the fixtures' times, so that a
// LiveKit token minted "now" is valid.
var testNow = time.Date(2025, 6, 2, 13, 10, 0, 0, time.UTC)

// recorder is a Sink that keeps what it is given, or fails, or blocks until
// its context ends, or blocks ignoring its context until hold is closed, or
// panics.
type recorder struct {
	mu     sync.Mutex
	evs    []event.Event
	fail   error
	block  bool
	hold   chan struct{}
	panics bool
}

func (r *recorder) sink(ctx context.Context, evs []event.Event) error {
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if r.hold != nil {
		<-r.hold
		return nil
	}
	if r.panics {
		panic("sink bug")
	}
	if r.fail != nil {
		return r.fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, evs...)
	return nil
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.evs...)
}

func testOptions(rec *recorder, reg prometheus.Registerer) Options {
	return Options{
		Sink:        rec.sink,
		Now:         func() time.Time { return testNow },
		SinkTimeout: time.Second, // the default: room for a loaded machine; tests of overruns set overrun
		Registerer:  reg,
	}
}

// overrun is the SinkTimeout of tests that wait for it to pass.
const overrun = 50 * time.Millisecond

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantEvent is what a test checks of an emitted event; the id is checked by
// the retry tests.
type wantEvent struct {
	typ      event.Type
	streamID string
	hostID   string
	ip       string
	at       time.Time
	node     string
}

// checkEvents compares got with want and checks that each event is a valid
// contract line: encoded and decoded back by the receiver's own decoder.
func checkEvents(t *testing.T, got []event.Event, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.typ || g.TypeName != w.typ.String() || g.StreamID != w.streamID || g.HostID != w.hostID ||
			g.IP != w.ip || !g.At.Equal(w.at) || g.Node != w.node {
			t.Errorf("event %d = {%s %q host %q ip %q at %s node %q}, want {%s %q host %q ip %q at %s node %q}", i,
				g.TypeName, g.StreamID, g.HostID, g.IP, g.At, g.Node, w.typ, w.streamID, w.hostID, w.ip, w.at, w.node)
		}
		checkContract(t, g)
	}
}

func checkContract(t testing.TB, ev event.Event) {
	t.Helper()
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var d event.Decoder
	var back event.Event
	if err := d.Decode(line, &back); err != nil {
		t.Fatalf("emitted event %s is not a valid contract line: %v", line, err)
	}
	if back.ID != ev.ID || back.Type != ev.Type || back.StreamID != ev.StreamID || back.HostID != ev.HostID {
		t.Fatalf("event %s decodes to %+v", line, back)
	}
}

// post sends body to h, authenticated by sign when it is not nil.
func post(h http.Handler, body []byte, sign func(*http.Request, []byte)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	if sign != nil {
		sign(r, body)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkHook posts testdata/file to a fresh handler from newH, its Options.Node
// set to node, and wants the answer's status, its body unless body is "", and
// the events that reached the Sink.
func checkHook(t *testing.T, newH func(Options) (http.Handler, error), node, file string,
	sign func(*http.Request, []byte), status int, body string, want []wantEvent) {
	t.Helper()
	rec := &recorder{}
	o := testOptions(rec, nil)
	o.Node = node
	h, err := newH(o)
	if err != nil {
		t.Fatal(err)
	}
	w := post(h, fixture(t, file), sign)
	if w.Code != status || (body != "" && w.Body.String() != body) {
		t.Fatalf("answer %d %q, want %d %q", w.Code, w.Body, status, body)
	}
	checkEvents(t, rec.events(), want)
}

// conformance is what every adapter must do with a webhook it takes: the
// same webhook retried gives the same id, and adapters share a registry.
// What each answers to requests that are not the happy path is in
// failopen_test.go (admission hooks) and livekit_test.go.
type conformance struct {
	adapter       string
	newH          func(Options) (http.Handler, error)
	sign          func(*http.Request, []byte)
	valid         []byte
	allowedStatus int
}

func (c conformance) run(t *testing.T) {
	t.Run("retry", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		h := c.handler(t, rec, nil)
		for range 2 {
			if w := post(h, c.valid, c.sign); w.Code != c.allowedStatus {
				t.Fatalf("%d %q", w.Code, w.Body)
			}
		}
		evs := rec.events()
		if len(evs) != 2 || evs[0].ID != evs[1].ID || evs[0].ID == "" {
			t.Fatalf("a retried webhook gave %+v, want twice the same id", evs)
		}
	})
	t.Run("shared registry", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		for range 2 {
			c.handler(t, &recorder{}, reg)
		}
	})
}

func (c conformance) handler(t *testing.T, rec *recorder, reg prometheus.Registerer) http.Handler {
	t.Helper()
	h, err := c.newH(testOptions(rec, reg))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantCount checks ronda_adapter_webhooks_total{adapter,result} in reg.
func wantCount(t testing.TB, reg *prometheus.Registry, adapter, result string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, mf := range mfs {
		if mf.GetName() != "ronda_adapter_webhooks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["adapter"] == adapter && labels["result"] == result {
				got += m.GetCounter().GetValue()
			}
		}
	}
	if got != want {
		t.Fatalf("ronda_adapter_webhooks_total{adapter=%q,result=%q} = %v, want %v", adapter, result, got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	good := ServerOptions{Secrets: []string{"0123456789abcdef"}}
	for name, f := range map[string]func() error{
		"no sink":   func() error { _, err := NewSRS(Options{}, good); return err },
		"no secret": func() error { _, err := NewSRS(Options{Sink: (&recorder{}).sink}, ServerOptions{}); return err },
		"short secret": func() error {
			_, err := NewOME(Options{Sink: (&recorder{}).sink}, ServerOptions{Secrets: []string{"short"}})
			return err
		},
		"no livekit key": func() error { _, err := NewLiveKit(Options{Sink: (&recorder{}).sink}, nil); return err },
		"empty livekit secret": func() error {
			_, err := NewLiveKit(Options{Sink: (&recorder{}).sink}, map[string]string{"APIx": ""})
			return err
		},
		"negative body": func() error { _, err := NewNginxRTMP(Options{Sink: (&recorder{}).sink, MaxBody: -1}, good); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
