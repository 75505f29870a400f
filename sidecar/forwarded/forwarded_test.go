package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

var (
	tenNet   = netip.MustParsePrefix("10.0.0.0/8")
	loopback = netip.MustParsePrefix("127.0.0.0/8")
	ula      = netip.MustParsePrefix("fd00::/8")
	v6Loop   = netip.MustParsePrefix("::1/128")
)

// request is a request from peer with one X-Forwarded-For line per xff.
func request(peer string, xff ...string) *http.Request {
	r := &http.Request{RemoteAddr: peer, Header: http.Header{}}
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

// TestClientAddr: X-Forwarded-For is believed only from a trusted peer, read
// right to left past trusted hops, and only as far as it can be read.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	hub := []netip.Prefix{tenNet, ula}
	intake := []netip.Prefix{loopback, tenNet}
	// maxHops trusted entries right of a client: the walk stops at the last
	// of them before it reaches the client.
	deep := "203.0.113.7" + strings.Repeat(", 10.0.0.9", maxHops-1) + ", 10.0.0.8"
	for _, c := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no header, untrusted peer", "192.0.2.1:5000", nil, hub, "192.0.2.1"},
		{"untrusted peer's header ignored", "192.0.2.1:5000", []string{"198.51.100.1"}, hub, "192.0.2.1"},
		{"no proxies trusted", "127.0.0.1:5000", []string{"203.0.113.7"}, nil, "127.0.0.1"},
		{"trusted peer, no header", "10.0.0.2:5000", nil, hub, "10.0.0.2"},
		{"one proxy", "10.0.0.2:5000", []string{"198.51.100.1"}, hub, "198.51.100.1"},
		{"forged left entry", "10.0.0.2:5000", []string{"1.1.1.1, 198.51.100.1"}, hub, "198.51.100.1"},
		{"client spoofs the left past a proxy", "127.0.0.1:5000", []string{"1.2.3.4, 203.0.113.7, 10.0.0.2"}, intake, "203.0.113.7"},
		{"two proxies", "10.0.0.2:5000", []string{"198.51.100.1, 10.0.0.9"}, hub, "198.51.100.1"},
		{"two headers", "10.0.0.2:5000", []string{"198.51.100.1", "10.0.0.9"}, hub, "198.51.100.1"},
		{"several headers", "127.0.0.1:5000", []string{"1.2.3.4", "203.0.113.7", "10.1.1.1"}, intake, "203.0.113.7"},
		{"all hops trusted: the leftmost", "10.0.0.2:5000", []string{"10.0.0.7, 10.0.0.9"}, hub, "10.0.0.7"},
		{"unreadable entry: the peer", "10.0.0.2:5000", []string{"junk"}, hub, "10.0.0.2"},
		{"unreadable entry: the nearest hop", "127.0.0.1:5000", []string{"203.0.113.7, nonsense, 10.0.0.2"}, intake, "10.0.0.2"},
		{"empty entry stops the walk", "127.0.0.1:5000", []string{"203.0.113.7,, 10.0.0.2"}, intake, "10.0.0.2"},
		{"empty header", "127.0.0.1:5000", []string{""}, intake, "127.0.0.1"},
		{"entry with a port", "10.0.0.2:5000", []string{"198.51.100.1:4711"}, hub, "198.51.100.1"},
		{"bracketed ipv6 with a port", "10.0.0.2:5000", []string{"[2001:db8::1]:443"}, hub, "2001:db8::1"},
		{"bracketed ipv6", "10.0.0.2:5000", []string{"[2001:db8::1]"}, hub, "2001:db8::1"},
		{"bracketed ipv4 is not an entry", "10.0.0.2:5000", []string{"[198.51.100.1]"}, hub, "10.0.0.2"},
		{"zone dropped from an entry", "10.0.0.2:5000", []string{"fe80::1%eth0"}, hub, "fe80::1"},
		{"ipv6 peer", "[::1]:5000", []string{"2001:db8::1"}, []netip.Prefix{v6Loop}, "2001:db8::1"},
		{"ipv6 proxy, mapped ipv4 entry", "[fd00::1]:5000", []string{"::ffff:198.51.100.1"}, hub, "198.51.100.1"},
		{"mapped ipv4 peer", "[::ffff:10.0.0.2]:5000", []string{"198.51.100.1"}, hub, "198.51.100.1"},
		{"mapped ipv4 loopback peer", "[::ffff:127.0.0.1]:5000", []string{"203.0.113.7"}, intake, "203.0.113.7"},
		{"bare ip peer", "10.0.0.2", []string{"198.51.100.1"}, hub, "198.51.100.1"},
		{"zoned peer is not trusted", "[fe80::1%eth0]:5000", []string{"198.51.100.1"}, []netip.Prefix{netip.MustParsePrefix("fe80::/10")}, "fe80::1%eth0"},
		{"hop bound: the last hop walked", "10.0.0.2:5000", []string{deep}, hub, "10.0.0.9"},
		{"hop bound counts across lines", "10.0.0.2:5000", []string{"203.0.113.7", strings.Repeat("10.0.0.9, ", maxHops-1) + "10.0.0.8"}, hub, "10.0.0.9"},
		{"within the bound", "10.0.0.2:5000", []string{"203.0.113.7" + strings.Repeat(", 10.0.0.9", maxHops-1)}, hub, "203.0.113.7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ClientAddr(request(c.peer, c.xff...), c.trusted).String(); got != c.want {
				t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
			}
		})
	}
}

// TestClientAddrUnreadablePeer: a peer address that is not an IP gives the
// zero Addr, whatever the header says, so callers can tell it apart.
func TestClientAddrUnreadablePeer(t *testing.T) {
	t.Parallel()
	for _, peer := range []string{"", "pipe", "example.org:80", "@"} {
		if got := ClientAddr(request(peer, "198.51.100.1"), []netip.Prefix{tenNet}); got.IsValid() {
			t.Errorf("peer %q: %s, want the zero Addr", peer, got)
		}
	}
}
