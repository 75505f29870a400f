package intake

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestDedupNotSteeredByWrongClock: a resent event id is a duplicate before and
// after another sender's event dated in 2099. Without the clamp the 2099 event
// moves the deduper's 24-hour window to 2099, every remembered id is
// forgotten and the resend is taken (its gifts counted twice).
func TestDedupNotSteeredByWrongClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 2, 13, 10, 0, 0, time.UTC) // chat() is dated 13:05 that day
	f := start(t, func(o *Options) { o.Now = func() time.Time { return now } })
	n := 0
	sign := func(key string, secret []byte) func(*http.Request, []byte) {
		n++ // a new timestamp each time: the same body resent is a new request, not a replay
		return signWith(key, secret, now.Add(time.Duration(n)*time.Second))
	}

	if r := f.do(f.request(batch(chat("r1")), sign("k1", key1))); r.status != 200 || r.answer.Accepted != 1 {
		t.Fatalf("first send: %d %s", r.status, r.raw)
	}
	if r := f.do(f.request(batch(chat("r1")), sign("k1", key1))); r.answer.Accepted != 0 || len(r.answer.Duplicates) != 1 {
		t.Fatalf("resend before the 2099 event: %s", r.raw)
	}
	future := fmt.Sprintf(`{"id":"f1","type":"chat","at":"2099-01-01T00:00:00Z","stream_id":"s9","sender_id":"v9","text":"x"}`)
	if r := f.do(f.request(batch(future), sign("k2", key2))); r.status != 200 || r.answer.Accepted != 1 {
		t.Fatalf("the 2099 event: %d %s", r.status, r.raw)
	}
	if r := f.do(f.request(batch(chat("r1")), sign("k1", key1))); r.answer.Accepted != 0 || len(r.answer.Duplicates) != 1 {
		t.Fatalf("resend after the 2099 event was taken again: %s", r.raw)
	}
	// The 2099 event is still deduplicated itself (remembered at now + the bound).
	if r := f.do(f.request(batch(future), sign("k2", key2))); r.answer.Accepted != 0 {
		t.Fatalf("the 2099 event resent was taken again: %s", r.raw)
	}
	if got := len(f.rec.ids()); got != 2 {
		t.Fatalf("sink took %d events, want 2", got)
	}
}
