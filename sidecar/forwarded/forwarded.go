// Package forwarded finds the address of the client behind a request that
// may have come through reverse proxies, for lockouts, rate limits and logs.
//
// It believes X-Forwarded-For only as far as the configured trusted proxies
// wrote it: the header is outside input, and from any other peer, or left of
// the first hop that is not a trusted proxy, it is whatever a client chose to
// write. It must not trust a hop because of its form (private, loopback) or
// read more than maxHops entries, and it never fails: an unreadable entry
// ends the walk at the nearest hop already known.
package forwarded

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds how many X-Forwarded-For entries ClientAddr walks: a real
// chain of proxies is a few hops long, and the header is sized by the client.
const maxHops = 32

// ClientAddr is the address a request comes from: the peer's IP, unless the
// peer is in trusted. Then it is the rightmost X-Forwarded-For entry that is
// not in trusted, walking right to left over every X-Forwarded-For line
// (each proxy appends the address it took the request from, so every entry
// right of a trusted one was written by a proxy this service trusts; what a
// client writes itself stays left of them). If every entry is trusted, it is
// the leftmost; if the entry reached is not an IP, or the walk passes
// maxHops, or there is no header, it is the nearest trusted hop. IPv4-mapped
// addresses are unmapped and zones dropped from entries. The zero Addr when
// the peer's address cannot be read.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	vals := r.Header.Values("X-Forwarded-For")
	hop := peer
	walked := 0
	for i := len(vals) - 1; i >= 0; i-- {
		// Entries are taken from the right without splitting the whole
		// line: a long header costs no more than maxHops entries.
		rest := vals[i]
		for more := true; more; {
			entry := rest
			if k := strings.LastIndexByte(rest, ','); k >= 0 {
				entry, rest = rest[k+1:], rest[:k]
			} else {
				more = false
			}
			walked++
			if walked > maxHops {
				return hop
			}
			a := parseEntry(entry)
			if !a.IsValid() {
				return hop
			}
			hop = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return hop
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

// parseEntry reads one X-Forwarded-For entry: an IP, IP:port, [IPv6]:port
// or [IPv6], as proxies variously write them. The zero Addr otherwise.
func parseEntry(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return a.WithZone("").Unmap()
			}
		}
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
