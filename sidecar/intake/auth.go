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
)

// The request headers of a signed batch.
const (
	HeaderKey       = "X-Ronda-Key"       // key id, a key of Options.Keys
	HeaderTimestamp = "X-Ronda-Timestamp" // Unix seconds, decimal
	HeaderSignature = "X-Ronda-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

const sigPrefix = "sha256="

// Sign sets the signature headers of req for body, the exact bytes it sends
// (compressed, when it sends Content-Encoding: gzip), at time now. It does
// not set the body. Re-sign a retry: a signature is accepted once, and only
// within the receiver's replay window.
func Sign(req *http.Request, keyID string, secret []byte, body []byte, now time.Time) {
	signHeader(req.Header, keyID, secret, body, now)
}

// SignHandshake sets the signature headers of a websocket handshake to
// WSPath: the signed body is requestURI, the request-target exactly as the
// client sends it (path, "?", raw query, as url.URL.RequestURI gives it).
// The query must carry a fresh nonce: a signature is accepted once.
func SignHandshake(h http.Header, keyID string, secret []byte, requestURI string, now time.Time) {
	signHeader(h, keyID, secret, []byte(requestURI), now)
}

func signHeader(h http.Header, keyID string, secret []byte, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := mac(secret, ts, body)
	h.Set(HeaderKey, keyID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sigPrefix+hex.EncodeToString(mac[:]))
}

func mac(secret []byte, ts string, body []byte) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	m.Sum(sum[:0])
	return sum
}

// verify compares in constant time.
func verify(secret []byte, ts int64, body []byte, sig [sha256.Size]byte) bool {
	want := mac(secret, strconv.FormatInt(ts, 10), body)
	return hmac.Equal(want[:], sig[:])
}

// authHeaders checks what can be checked before the body is read: the three
// headers are there, the key is known, the timestamp is within the window and
// the signature is well formed.
func (h *Handler) authHeaders(r *http.Request, now time.Time) (keyID string, ts int64, sig [sha256.Size]byte, rf *refusal) {
	keyID = r.Header.Get(HeaderKey)
	tsText := r.Header.Get(HeaderTimestamp)
	sigText := r.Header.Get(HeaderSignature)
	if keyID == "" || tsText == "" || sigText == "" {
		return "", 0, sig, refuse(http.StatusUnauthorized, "no_signature",
			"missing signature: "+HeaderKey+", "+HeaderTimestamp+" and "+HeaderSignature+" are required")
	}
	if _, ok := h.keys[keyID]; !ok {
		return "", 0, sig, refuse(http.StatusUnauthorized, "unknown_key", "unknown key id")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || len(tsText) > 12 {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_timestamp",
			HeaderTimestamp+" must be Unix seconds")
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > h.opts.MaxSkew || skew < -h.opts.MaxSkew {
		return "", 0, sig, refuse(http.StatusUnauthorized, "expired",
			"timestamp outside the replay window of "+h.opts.MaxSkew.String()+": expired, or the sender's clock is off")
	}
	hexSig, ok := strings.CutPrefix(sigText, sigPrefix)
	if !ok || len(hexSig) != hex.EncodedLen(sha256.Size) {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_signature",
			HeaderSignature+" must be sha256= and 64 hex digits")
	}
	if _, err := hex.Decode(sig[:], []byte(hexSig)); err != nil {
		return "", 0, sig, refuse(http.StatusUnauthorized, "bad_signature",
			HeaderSignature+" must be sha256= and 64 hex digits")
	}
	return keyID, ts, sig, nil
}

type replayResult int

const (
	replayNew replayResult = iota
	replayed
	replayFull
)

// replayGuard remembers the signatures of the replay window, each until its
// timestamp leaves the window, at most max of them. Entries leave in arrival
// order, so one may outlive its expiry by up to the window: harmless, it is
// outside the window by then.
type replayGuard struct {
	mu   sync.Mutex
	max  int
	seen map[[sha256.Size]byte]time.Time // signature → expiry
	fifo []replayEntry
	head int
}

type replayEntry struct {
	sig [sha256.Size]byte
	exp time.Time
}

func newReplayGuard(max int) *replayGuard {
	return &replayGuard{max: max, seen: make(map[[sha256.Size]byte]time.Time)}
}

// add remembers sig until exp, unless it is remembered already or memory is
// full of live signatures.
func (g *replayGuard) add(sig [sha256.Size]byte, now, exp time.Time) replayResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	if _, ok := g.seen[sig]; ok {
		return replayed
	}
	if len(g.fifo)-g.head >= g.max {
		g.compact()
		if len(g.fifo)-g.head >= g.max {
			return replayFull
		}
	}
	g.seen[sig] = exp
	g.fifo = append(g.fifo, replayEntry{sig, exp})
	return replayNew
}

// forget lets a signature be used again: for a request refused before
// anything of it was taken.
func (g *replayGuard) forget(sig [sha256.Size]byte) {
	g.mu.Lock()
	delete(g.seen, sig)
	g.mu.Unlock()
}

func (g *replayGuard) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

func (g *replayGuard) expire(now time.Time) {
	for g.head < len(g.fifo) && g.fifo[g.head].exp.Before(now) {
		e := &g.fifo[g.head]
		if exp, ok := g.seen[e.sig]; ok && exp.Equal(e.exp) {
			delete(g.seen, e.sig)
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
		if exp, ok := g.seen[e.sig]; ok && exp.Equal(e.exp) {
			live = append(live, e)
		}
	}
	clear(g.fifo[len(live):])
	g.fifo, g.head = live, 0
}
