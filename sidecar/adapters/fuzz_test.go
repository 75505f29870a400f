package adapters

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Each body parser takes whatever a media server (or anyone who got past its
// authentication) sends: it must not panic, and what it maps must be a valid
// contract event. The handlers of the admission hooks (SRS, OME, nginx-rtmp)
// must answer their allow form to any body, signed or not. Run one with
// go test -fuzz FuzzSRS -fuzztime 1m.

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

// checkAllows serves body to h, signed or not, and wants the allow form
// whatever the body: an admission hook never refuses by accident, and an
// unsigned body records nothing.
func checkAllows(t *testing.T, newH func(Options) (http.Handler, error), body []byte, signed bool,
	sign func(*http.Request, []byte), allow func(body []byte) string) {
	t.Helper()
	rec := &recorder{}
	h, err := newH(testOptions(rec, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !signed {
		sign = nil
	}
	w := post(h, body, sign)
	if want := allow(body); w.Code != http.StatusOK || w.Body.String() != want {
		t.Fatalf("answer %d %q, want 200 %q", w.Code, w.Body, want)
	}
	if !signed && len(rec.events()) != 0 {
		t.Fatalf("an unsigned body recorded %+v", rec.events())
	}
}

func seedSigned(f *testing.F, dir string) {
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
		f.Add(b, true)
		f.Add(b, false)
	}
}

func FuzzSRS(f *testing.F) {
	seedSigned(f, "srs")
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		checkAllows(t, newSRSHandler, body, signed, srsSign, func([]byte) string { return "0" })
		cb, err := parseSRS(body)
		if err != nil {
			return
		}
		evs, err := mapSRS(cb, "host", "", testNow)
		checkMapped(t, evs, err)
	})
}

func FuzzOME(f *testing.F) {
	seedSigned(f, "ome")
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		checkAllows(t, newOMEHandler, body, signed, omeSign, func(b []byte) string {
			if omeClosing(b) {
				return `{}`
			}
			return `{"allowed":true}`
		})
		a, err := parseOME(body)
		if err != nil {
			return
		}
		if a.Request.Status == "opening" && omeClosing(body) {
			t.Fatalf("an opening %q read as a closing", body)
		}
		evs, err := mapOME(a, "host", "")
		checkMapped(t, evs, err)
	})
}

func FuzzNginxRTMP(f *testing.F) {
	seedSigned(f, "nginx-rtmp")
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		checkAllows(t, newNginxHandler, body, signed, nginxSign, func([]byte) string { return "" })
		form, err := parseNginxRTMP(body)
		if err != nil {
			return
		}
		evs, err := mapNginxRTMP(form, "host", "", testNow)
		checkMapped(t, evs, err)
	})
}
