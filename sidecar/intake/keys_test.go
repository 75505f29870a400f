package intake

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// TestSetKeysUnderLoad rotates the keys 50 times while several senders
// post with a kept key without a pause: none of theirs is refused. After
// each SetKeys the key it removed is refused at once, and the socket
// authenticated with it is closed.
func TestSetKeysUnderLoad(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) {
		o.RateEvents, o.RateRequests = -1, -1 // the load is the test's, not the limits'
	})
	stop := make(chan struct{})
	var sent, refused atomic.Int64
	var firstRefusal atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				body := f.fresh(5)
				req := f.request(body, signed) // k1, kept throughout
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				sent.Add(1)
				if resp.StatusCode != http.StatusOK {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}

	s := newWSServer(t, nil)
	base := map[string][]byte{"k1": key1}
	prev := "k2"
	prevSecret := key2
	for i := range 50 {
		intaketest.WaitFor(t, "requests between rotations", func() bool { return sent.Load() >= int64(4*(i+1)) })
		id := fmt.Sprintf("rot-%d", i)
		secret := []byte(fmt.Sprintf("0123456789abcdef-rotated-%d", i))
		next := map[string][]byte{"k1": key1, id: secret}
		// A socket on the key about to go, on the websocket handler.
		if i%10 == 0 {
			ws := s.handler()
			if err := ws.SetKeys(map[string][]byte{"k1": key1, prev: prevSecret}); err != nil {
				t.Fatal(err)
			}
			conn, _, err := s.dialRaw(s.handshakeURL("rot", id), func(h http.Header, uri string) {
				wire.SignHandshake(h, prev, prevSecret, uri, time.Now())
			})
			if err != nil {
				t.Fatal(err)
			}
			r := &rawSession{t: t, conn: conn}
			r.read() // hello
			if err := ws.SetKeys(base); err != nil {
				t.Fatal(err)
			}
			if code, text := r.closed(); code != websocket.ClosePolicyViolation || !strings.Contains(text, "revoked") {
				t.Fatalf("socket of a removed key: closed %d %q", code, text)
			}
			conn.Close()
		}
		if err := f.h.SetKeys(next); err != nil {
			t.Fatal(err)
		}
		r := f.do(f.request(f.fresh(1), signWith(prev, prevSecret, time.Now())))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("rotation %d: removed key %s: %d %s", i, prev, r.status, r.raw)
		}
		r = f.do(f.request(f.fresh(1), signWith(id, secret, time.Now())))
		if r.status != http.StatusOK {
			t.Fatalf("rotation %d: new key %s: %d %s", i, id, r.status, r.raw)
		}
		prev, prevSecret = id, secret
	}
	close(stop)
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d of %d requests with the kept key refused during rotation (first: %v)", n, sent.Load(), firstRefusal.Load())
	}
	if n := testutil.ToFloat64(f.h.m.keyReloads); n != 50 {
		t.Errorf("key reloads = %v", n)
	}
	t.Logf("%d requests with the kept key during 50 rotations, none refused", sent.Load())
}

// TestSetKeysAllOrNothing: a bad key set is refused whole and changes
// nothing; a rotated secret under the same id refuses the old secret.
func TestSetKeysAllOrNothing(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	for name, keys := range map[string]map[string][]byte{
		"empty":     {},
		"short key": {"k1": key1, "k3": []byte("short")},
		"empty id":  {"": key1},
	} {
		if err := f.h.SetKeys(keys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f.stillWorks()
	if r := f.do(f.request(f.fresh(1), signWith("k2", key2, time.Now()))); r.status != 200 {
		t.Fatalf("k2 after refused reloads: %d %s", r.status, r.raw)
	}
	newSecret := []byte("0123456789abcdef-k1-rotated")
	if err := f.h.SetKeys(map[string][]byte{"k1": newSecret}); err != nil {
		t.Fatal(err)
	}
	if r := f.post(f.fresh(1)); r.status != 401 {
		t.Fatalf("old secret of k1: %d %s", r.status, r.raw)
	}
	if r := f.do(f.request(f.fresh(1), signWith("k1", newSecret, time.Now()))); r.status != 200 {
		t.Fatalf("new secret of k1: %d %s", r.status, r.raw)
	}
}

// TestSetKeysRefusesRequestInFlight: a request signed with a key that
// SetKeys removes while its body is being read is refused, though its
// signature was good when it started.
func TestSetKeysRefusesRequestInFlight(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	body := f.fresh(2)
	req := f.request(nil, signWith("k2", key2, time.Now()))
	wire.Sign(req, "k2", key2, body, time.Now())
	pr, pw := io.Pipe()
	req.Body, req.ContentLength = pr, int64(len(body))
	done := make(chan reply)
	go func() { done <- f.do(req) }()
	if _, err := pw.Write(body[:10]); err != nil { // the server is reading it
		t.Fatal(err)
	}
	if err := f.h.SetKeys(map[string][]byte{"k1": key1}); err != nil {
		t.Fatal(err)
	}
	pw.Write(body[10:])
	pw.Close()
	if r := <-done; r.status != http.StatusUnauthorized {
		t.Fatalf("request of a key removed while it was read: %d %s", r.status, r.raw)
	}
	f.stillWorks()
}
