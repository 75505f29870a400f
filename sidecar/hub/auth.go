package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Subprotocol is the protocol name a browser console offers beside its token,
// as Sec-WebSocket-Protocol: ronda.v1, ronda.token.<token>. The hub answers with
// ronda.v1 so the token is not echoed back.
const Subprotocol = "ronda.v1"

const tokenProtocolPrefix = "ronda.token."

// Reasons of ronda_hub_auth_failures_total.
const (
	failMissing     = "missing_token"
	failBad         = "bad_token"
	failOrigin      = "origin"
	failRateLimited = "rate_limited"
)

func roleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleModerator:
		return 2
	case RoleLead:
		return 3
	}
	return 0
}

// presented finds the token a request carries: Authorization: Bearer first,
// else a ronda.token.* subprotocol (browsers cannot set headers on websockets).
func presented(r *http.Request) (token string, viaProtocol bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), false
		}
		return "", false
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			p = strings.TrimSpace(p)
			if t, ok := strings.CutPrefix(p, tokenProtocolPrefix); ok {
				return t, true
			}
		}
	}
	return "", false
}

// offers says whether the request offers subprotocol p.
func offers(r *http.Request, p string) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for q := range strings.SplitSeq(h, ",") {
			if strings.TrimSpace(q) == p {
				return true
			}
		}
	}
	return false
}

// lookup finds a token by its hash. The stored side is a hash, so a lookup's
// timing tells nothing about any secret.
func (h *Hub) lookup(secret string) (Token, bool) {
	sum := sha256.Sum256([]byte(secret))
	t, ok := h.tokens[hex.EncodeToString(sum[:])]
	return t, ok
}

// remoteHost is the address bad tokens are counted by: the peer's IP, not any
// forwarded header a client could forge.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter counts bad tokens per address in fixed windows.
type limiter struct {
	limit  int
	window time.Duration

	mu    sync.Mutex
	addrs map[string]*strikes
}

type strikes struct {
	start time.Time
	n     int
}

const maxLimiterAddrs = 100_000

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, addrs: map[string]*strikes{}}
}

// blocked says whether addr is over its limit at now and, if so, for how long.
func (l *limiter) blocked(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.addrs[addr]
	if s == nil {
		return 0, false
	}
	end := s.start.Add(l.window)
	if !now.Before(end) {
		delete(l.addrs, addr)
		return 0, false
	}
	return end.Sub(now), s.n >= l.limit
}

// strike counts one bad token from addr.
func (l *limiter) strike(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.addrs[addr]
	if s == nil || !now.Before(s.start.Add(l.window)) {
		if len(l.addrs) >= maxLimiterAddrs {
			l.pruneLocked(now)
		}
		s = &strikes{start: now}
		l.addrs[addr] = s
	}
	s.n++
}

// pruneLocked drops finished windows; if every window is live (a flood from
// many addresses), it starts over rather than grow without bound.
func (l *limiter) pruneLocked(now time.Time) {
	for a, s := range l.addrs {
		if !now.Before(s.start.Add(l.window)) {
			delete(l.addrs, a)
		}
	}
	if len(l.addrs) >= maxLimiterAddrs {
		clear(l.addrs)
	}
}
