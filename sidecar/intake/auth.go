package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// verify compares in constant time.
func verify(secret []byte, ts int64, body []byte, sig [sha256.Size]byte) bool {
	want := wire.MAC(secret, strconv.FormatInt(ts, 10), body)
	return hmac.Equal(want[:], sig[:])
}

// authHeaders checks what can be checked before the body is read: the three
// headers are there, the timestamp is within the window and the signature is
// well formed. Whether the key id exists is not said here: an unknown id is
// answered as a bad signature, after the body, so that ids cannot be probed.
func (h *Handler) authHeaders(r *http.Request, now time.Time) (keyID string, ts int64, sig [sha256.Size]byte, rf *refusal) {
	keyID = r.Header.Get(wire.HeaderKey)
	tsText := r.Header.Get(wire.HeaderTimestamp)
	sigText := r.Header.Get(wire.HeaderSignature)
	if keyID == "" || tsText == "" || sigText == "" {
		return "", 0, sig, refuse(http.StatusUnauthorized, "no_signature",
			"missing signature: "+wire.HeaderKey+", "+wire.HeaderTimestamp+" and "+wire.HeaderSignature+" are required")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || len(tsText) > 12 {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_timestamp",
			wire.HeaderTimestamp+" must be Unix seconds")
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > h.opts.MaxSkew || skew < -h.opts.MaxFutureSkew {
		return "", 0, sig, refuse(http.StatusUnauthorized, "expired",
			"timestamp outside the replay window ("+h.opts.MaxSkew.String()+" behind, "+
				h.opts.MaxFutureSkew.String()+" ahead): expired, or the sender's clock is off")
	}
	hexSig, ok := strings.CutPrefix(sigText, wire.SigPrefix)
	if !ok || len(hexSig) != hex.EncodedLen(sha256.Size) {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_signature",
			wire.HeaderSignature+" must be sha256= and 64 hex digits")
	}
	if _, err := hex.Decode(sig[:], []byte(hexSig)); err != nil {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_signature",
			wire.HeaderSignature+" must be sha256= and 64 hex digits")
	}
	return keyID, ts, sig, nil
}

// badSignature is the answer to a signature that does not verify, and to an
// unknown key id: the same status, reason and text.
func (h *Handler) badSignature() *refusal {
	return refuse(http.StatusUnauthorized, "bad_signature",
		"signature does not match the body and timestamp for this key")
}

type replayResult int

const (
	replayNew replayResult = iota
	replayed
	replayFull
)

// replayGuard remembers the signatures of the replay window, each until its
// timestamp leaves the window: at most max of them in all, and at most an
// equal share of max per key, so that one key holder cannot fill the memory
// and lock every other key out. Entries leave in arrival order, so one may
// outlive its expiry by up to the window: harmless, it is outside the window
// by then.
type replayGuard struct {
	mu     sync.Mutex
	max    int
	share  int // per key: max divided by the number of keys
	seen   map[[sha256.Size]byte]replayVal
	perKey map[string]int
	fifo   []replayEntry
	head   int
}

type replayVal struct {
	exp time.Time
	key string
}

type replayEntry struct {
	sig [sha256.Size]byte
	exp time.Time
}

func newReplayGuard(max, keys int) *replayGuard {
	g := &replayGuard{max: max, seen: make(map[[sha256.Size]byte]replayVal), perKey: make(map[string]int)}
	g.setShare(keys)
	return g
}

// setShare divides the memory among n keys.
func (g *replayGuard) setShare(n int) {
	g.mu.Lock()
	g.share = max(g.max/max(n, 1), 1)
	g.mu.Unlock()
}

// add remembers sig of key until exp, unless it is remembered already or the
// key's share (or the whole memory) is full of live signatures.
func (g *replayGuard) add(key string, sig [sha256.Size]byte, now, exp time.Time) replayResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	if _, ok := g.seen[sig]; ok {
		return replayed
	}
	if g.perKey[key] >= g.share || len(g.seen) >= g.max {
		return replayFull
	}
	if len(g.fifo)-g.head >= 2*g.max {
		g.compact() // forgotten entries pile up in the fifo otherwise
	}
	g.seen[sig] = replayVal{exp, key}
	g.perKey[key]++
	g.fifo = append(g.fifo, replayEntry{sig, exp})
	return replayNew
}

// forget lets a signature be used again: for a request refused before
// anything of it was taken.
func (g *replayGuard) forget(sig [sha256.Size]byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.seen[sig]; ok {
		g.drop(sig, v)
	}
}

func (g *replayGuard) drop(sig [sha256.Size]byte, v replayVal) {
	delete(g.seen, sig)
	if g.perKey[v.key]--; g.perKey[v.key] <= 0 {
		delete(g.perKey, v.key)
	}
}

func (g *replayGuard) keyShare() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.share
}

func (g *replayGuard) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

func (g *replayGuard) expire(now time.Time) {
	for g.head < len(g.fifo) && g.fifo[g.head].exp.Before(now) {
		e := &g.fifo[g.head]
		if v, ok := g.seen[e.sig]; ok && v.exp.Equal(e.exp) {
			g.drop(e.sig, v)
		}
		*e = replayEntry{}
		g.head++
	}
	if g.head == len(g.fifo) {
		g.fifo, g.head = g.fifo[:0], 0
	} else if g.head >= 1024 && g.head*2 >= len(g.fifo) {
		n := copy(g.fifo, g.fifo[g.head:])
		g.fifo, g.head = g.fifo[:n], 0
	}
}

// compact drops the entries of forgotten signatures.
func (g *replayGuard) compact() {
	live := g.fifo[:0]
	for _, e := range g.fifo[g.head:] {
		if v, ok := g.seen[e.sig]; ok && v.exp.Equal(e.exp) {
			live = append(live, e)
		}
	}
	clear(g.fifo[len(live):])
	g.fifo, g.head = live, 0
}
