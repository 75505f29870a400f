package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// The request headers of a signed batch or handshake.
const (
	HeaderKey       = "X-Ronda-Key"       // key id, a key of the receiver's keys
	HeaderTimestamp = "X-Ronda-Timestamp" // Unix seconds, decimal
	HeaderSignature = "X-Ronda-Signature" // SigPrefix + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// SigPrefix starts every HeaderSignature value.
const SigPrefix = "sha256="

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
	mac := MAC(secret, ts, body)
	h.Set(HeaderKey, keyID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, SigPrefix+hex.EncodeToString(mac[:]))
}

// MAC is the signature of body at ts (decimal Unix seconds):
// HMAC-SHA256(secret, ts + "." + body). Compare with hmac.Equal.
func MAC(secret []byte, ts string, body []byte) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	m.Sum(sum[:0])
	return sum
}
