package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ronda-watch/ronda/sidecar/forwarded"
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
	failRole        = "role"
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

// admitted is a request that passed admit: whose token it is (SHA256 in
// lower case), and whether it came as a subprotocol.
type admitted struct {
	Token
	viaProtocol bool
}

// admit runs the checks every request to the hub passes, in order: the
// Origin, the token, and for a request without a valid token the address's
// bad-token limit. A refusal is answered here (403; 429 with Retry-After; 401
// with WWW-Authenticate), with a plain-text reason, and counted.
//
// A valid token is admitted even from an address over its limit: the limit
// throttles guessing from one address, and must not lock out the moderators
// who share that address (a NAT, a proxy) with a guesser.
func (h *Hub) admit(w http.ResponseWriter, r *http.Request) (admitted, bool) {
	now := h.opts.Now()
	if !h.originAllowed(r) {
		h.m.auth.WithLabelValues(failOrigin).Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return admitted{}, false
	}
	secret, viaProtocol := presented(r)
	tok, ok := h.lookup(secret)
	if ok {
		return admitted{Token: tok, viaProtocol: viaProtocol}, true
	}
	addr := lockoutKey(r, h.proxies)
	if wait, blocked := h.limiter.blocked(addr, now); blocked {
		h.m.auth.WithLabelValues(failRateLimited).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		http.Error(w, "too many bad tokens", http.StatusTooManyRequests)
		return admitted{}, false
	}
	h.limiter.strike(addr, now)
	if secret == "" {
		h.m.auth.WithLabelValues(failMissing).Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="ronda"`)
		http.Error(w, "missing bearer token", http.StatusUnauthorized)
		return admitted{}, false
	}
	h.m.auth.WithLabelValues(failBad).Inc()
	w.Header().Set("WWW-Authenticate", `Bearer realm="ronda", error="invalid_token"`)
	http.Error(w, "invalid token", http.StatusUnauthorized)
	return admitted{}, false
}

// originAllowed says whether the page a browser request comes from may use
// the hub: one of AllowedOrigins, or a page of the host the request is for
// (the console this service serves), which is what gorilla/websocket's
// default check allows. A request without Origin is not a browser's.
func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || h.origins[origin] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// WhoAmI answers GET WhoAmIPath with the name and role of the bearer token in
// Authorization, {"name":…,"role":…}. A console asks it before it opens the
// socket, so that a wrong token is told apart from a network failure: it
// applies the socket's checks and counts them the same (403 origin, 429 too
// many bad tokens with Retry-After, 401 missing or invalid token).
func (h *Hub) WhoAmI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	who, ok := h.admit(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}{who.Name, who.Role})
}

// Authenticate runs the hub's checks on a request to another endpoint of
// the moderators' (the cases API): the Origin, the bearer token, the bad-token
// limit, each refusal answered and counted as for the socket. It gives the
// token's name and role.
func (h *Hub) Authenticate(w http.ResponseWriter, r *http.Request) (name, role string, ok bool) {
	t, ok := h.Authorize(w, r, RoleViewer)
	return t.Name, t.Role, ok
}

// RoleAtLeast says whether role may do what need may (viewer < moderator <
// lead); an unknown role may do nothing.
func RoleAtLeast(role, need string) bool {
	return roleRank(role) > 0 && roleRank(role) >= roleRank(need)
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
	if secret == "" {
		return Token{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	t, ok := h.tokens.Load().byHash[hex.EncodeToString(sum[:])]
	return t, ok
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

// lockoutKey is the client a bad token is counted against: its address
// (forwarded.ClientAddr) in string form, or the peer's address as given when
// that is not an IP, so unreadable peers are not all one client.
func lockoutKey(r *http.Request, proxies []netip.Prefix) string {
	if a := forwarded.ClientAddr(r, proxies); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
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

// Authorize admits a request to an HTTP endpoint beside the hub (the
// record's history, the cases, the levers) with the socket's checks, counted
// the same, and then asks for at least role: a refusal is answered here (403
// origin or role, 429, 401) and ok is false. A composition layer wraps its
// endpoints in it, so that every moderator's door has the same lock.
func (h *Hub) Authorize(w http.ResponseWriter, r *http.Request, role string) (Token, bool) {
	who, ok := h.admit(w, r)
	if !ok {
		return Token{}, false
	}
	if roleRank(who.Role) < roleRank(role) {
		h.m.auth.WithLabelValues(failRole).Inc()
		http.Error(w, "forbidden: needs role "+role, http.StatusForbidden)
		return Token{}, false
	}
	return who.Token, true
}
