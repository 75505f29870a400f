package hub

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries ClientAddr walks.
const maxForwardedHops = 32

// ClientAddr is the address a request comes from, for limits and logs: the
// peer's IP, unless the peer is one of the trusted proxies. Then it is the
// rightmost X-Forwarded-For entry that is not a trusted proxy, walking right
// to left (each proxy appends the address it took the request from, so every
// entry right of a trusted one was written by a proxy this hub trusts; what a
// client writes itself stays left of them). If every entry is trusted, it is
// the leftmost; if the entry reached is not an IP, or there is no header, it
// is the nearest trusted hop. An untrusted peer's X-Forwarded-For is
// ignored: a client could write anything there.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !inPrefixes(peer, trusted) {
		return peer.String()
	}
	vals := r.Header.Values("X-Forwarded-For")
	hop := peer
	walked := 0
	for i := len(vals) - 1; i >= 0; i-- {
		parts := strings.Split(vals[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			walked++
			if walked > maxForwardedHops {
				return hop.String()
			}
			a := parseForwarded(parts[j])
			if !a.IsValid() {
				return hop.String()
			}
			hop = a
			if !inPrefixes(a, trusted) {
				return a.String()
			}
		}
	}
	return hop.String()
}

// peerAddr parses a RemoteAddr, host:port or a bare IP.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	a, err := netip.ParseAddr(remote)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseForwarded reads one X-Forwarded-For entry: an IP, or IP:port, or
// [IPv6]:port as some proxies write.
func parseForwarded(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	return netip.Addr{}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
