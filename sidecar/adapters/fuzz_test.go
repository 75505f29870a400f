package adapters

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Each body parser takes whatever a media server (or anyone who got past its
// authentication) sends: it must not panic, and what it maps must be a valid
// contract event. Run one with go test -fuzz FuzzSRS -fuzztime 20s.

func seed(f *testing.F, dir string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkMapped(t *testing.T, evs []event.Event, err error) {
	if err != nil {
		return
	}
	for _, ev := range evs {
		if ev.ID == "" || len(ev.ID) > event.MaxIDBytes {
			t.Fatalf("bad id %q", ev.ID)
		}
		checkContract(t, ev)
	}
}

func FuzzLiveKit(f *testing.F) {
	seed(f, "livekit")
	f.Fuzz(func(t *testing.T, body []byte) {
		wh, err := parseLiveKit(body)
		if err != nil {
			return
		}
		evs, err := mapLiveKit(wh, "", testNow)
		checkMapped(t, evs, err)
	})
}

func FuzzSRS(f *testing.F) {
	seed(f, "srs")
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := parseSRS(body)
		if err != nil {
			return
		}
		evs, err := mapSRS(cb, "host", "", testNow)
		checkMapped(t, evs, err)
	})
}

func FuzzOME(f *testing.F) {
	seed(f, "ome")
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseOME(body)
		if err != nil {
			return
		}
		evs, err := mapOME(a, "host", "")
		checkMapped(t, evs, err)
	})
}

func FuzzNginxRTMP(f *testing.F) {
	seed(f, "nginx-rtmp")
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := parseNginxRTMP(body)
		if err != nil {
			return
		}
		evs, err := mapNginxRTMP(form, "host", "", testNow)
		checkMapped(t, evs, err)
	})
}
