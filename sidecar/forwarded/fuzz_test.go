package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// fuzzTrusted are the prefixes a fuzz input chooses from by the bits of a byte.
var fuzzTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fd00::/8"),
	netip.MustParsePrefix("0.0.0.0/0"),
	netip.MustParsePrefix("::/0"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("198.51.100.0/24"),
}

// FuzzClientAddr: X-Forwarded-For and the peer address are outside input.
// ClientAddr never panics; its answer is the peer or an entry of the header;
// an untrusted peer always gets the peer; and it agrees with a plain reading
// that splits every line (the walk the hub had before this package).
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.2:5000", "198.51.100.1", byte(1))
	f.Add("192.0.2.1:5000", "198.51.100.1", byte(0xff))
	f.Add("127.0.0.1:5000", "1.2.3.4, 203.0.113.7, 10.0.0.2", byte(3))
	f.Add("127.0.0.1:5000", "1.2.3.4\n203.0.113.7\n10.1.1.1", byte(3))
	f.Add("[fd00::1]:5000", "[2001:db8::1]:443, ::ffff:10.0.0.1", byte(9))
	f.Add("[::ffff:10.0.0.2]:5000", "fe80::1%eth0, [2001:db8::2], junk", byte(0x41))
	f.Add("[fe80::1%eth0]:1", "198.51.100.1", byte(0x40))
	f.Add("10.0.0.2", ",,, ,", byte(0x10))
	f.Add("pipe", "198.51.100.1", byte(0x10))
	f.Add("10.0.0.2:5000", strings.Repeat("10.0.0.9,", 40)+"203.0.113.7", byte(1))
	f.Fuzz(func(t *testing.T, peer, xff string, mask byte) {
		var trusted []netip.Prefix
		for i, p := range fuzzTrusted {
			if mask&(1<<i) != 0 {
				trusted = append(trusted, p)
			}
		}
		r := &http.Request{RemoteAddr: peer, Header: http.Header{}}
		lines := strings.Split(xff, "\n")
		if xff != "" {
			for _, v := range lines {
				r.Header.Add("X-Forwarded-For", v)
			}
		} else {
			lines = nil
		}
		got := ClientAddr(r, trusted)
		p := peerAddr(peer)
		if want := reference(p, lines, trusted); got != want {
			t.Fatalf("peer %q, X-Forwarded-For %q, trusted %v: %v, the plain reading %v", peer, lines, trusted, got, want)
		}
		if !inPrefixes(p, trusted) && got != p {
			t.Fatalf("untrusted peer %q: %v, want the peer %v", peer, got, p)
		}
		if got == p {
			return
		}
		for _, line := range lines {
			for _, e := range strings.Split(line, ",") {
				if parseEntry(e) == got {
					return
				}
			}
		}
		t.Fatalf("peer %q, X-Forwarded-For %q: %v is neither the peer nor an entry", peer, lines, got)
	})
}

// reference is ClientAddr's walk written the plain way: split every line,
// walk the pieces right to left.
func reference(peer netip.Addr, lines []string, trusted []netip.Prefix) netip.Addr {
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	hop, walked := peer, 0
	for i := len(lines) - 1; i >= 0; i-- {
		parts := strings.Split(lines[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			if walked++; walked > maxHops {
				return hop
			}
			a := parseEntry(parts[j])
			if !a.IsValid() {
				return hop
			}
			if hop = a; !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return hop
}
