package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// FuzzHandler throws random bodies and headers at the request path: it must
// never panic and always answer a JSON object with a 2xx, 4xx or 5xx status.
// With sign set the fuzzer's body is signed correctly, so that it reaches
// decoding, dedup and the sink; busy makes the sink say ErrBusy.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(chat("f1")+"\n"+chat("f1")+"\n{\"bad\n"), "", "k1", "", "", true, false)
	f.Add([]byte(chat("f2")), "gzip", "k1", "", "", true, false)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), "gzip", "k1", "", "", true, false)
	f.Add([]byte(chat("f3")), "", "k2", "1700000000", "sha256=00", false, false)
	f.Add([]byte(chat("f4")), "", "k1", "", "", true, true)
	f.Add([]byte("[1]\n\n{}\n"), "identity", "nokey", "-1", "sha256=", false, false)

	now := time.Unix(1_700_000_000, 0)
	h, err := NewHandler(Options{
		Keys:            map[string][]byte{"k1": key1, "k2": key2},
		Sink:            func(context.Context, []event.Event) error { return nil },
		Now:             func() time.Time { return now },
		MaxBodyBytes:    1 << 16,
		MaxDecodedBytes: 1 << 18,
		MaxLines:        1000,
	})
	if err != nil {
		f.Fatal(err)
	}
	busy, err := NewHandler(Options{
		Keys: map[string][]byte{"k1": key1, "k2": key2},
		Sink: func(context.Context, []event.Event) error { return ErrBusy },
		Now:  func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, ce, keyID, ts, sig string, sign, sinkBusy bool) {
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		req.Header.Set(HeaderKey, keyID)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, sig)
		if sign {
			Sign(req, "k1", key1, body, now)
		}
		target := h
		if sinkBusy {
			target = busy
		}
		w := httptest.NewRecorder()
		target.ServeHTTP(w, req)
		if c := w.Code; c < 200 || c >= 600 || c/100 == 3 {
			t.Fatalf("status %d", c)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
			t.Fatalf("Content-Length %s for %s bytes", got, want)
		}
		var obj map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
			t.Fatalf("status %d: answer is not a JSON object: %v: %q", w.Code, err, w.Body.Bytes())
		}
		if w.Code == 200 {
			for _, k := range []string{"accepted", "duplicates", "rejected", "unknown"} {
				if _, ok := obj[k]; !ok {
					t.Fatalf("answer without %q: %s", k, w.Body.Bytes())
				}
			}
		} else if s, _ := obj["error"].(string); s == "" {
			t.Fatalf("status %d without an error: %s", w.Code, w.Body.Bytes())
		}
		if (w.Code == 429 || w.Code == 503) && w.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d without Retry-After", w.Code)
		}
	})
}
