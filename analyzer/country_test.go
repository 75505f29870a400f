package analyzer

import (
	"fmt"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Every country's zone resolves from the embedded zone database (time/tzdata),
// so a static image with no /usr/share/zoneinfo judges the same nights.
func TestCountryZonesLoad(t *testing.T) {
	for c, z := range countryZone {
		l := countryLoc[c]
		if l == nil || l.String() != z {
			t.Errorf("%s: zone %q did not load (%v)", c, z, l)
		}
		if zoneCountry[z] != c {
			t.Errorf("zone %s maps to %q, want %s", z, zoneCountry[z], c)
		}
	}
}

// The senders' night follows daylight saving: a US sender (America/Chicago)
// at 03:30 UTC is at 21:30 in winter (CST, UTC-6) but 22:30 in summer (CDT,
// UTC-5); at 10:30 UTC it is 04:30 in winter but 05:30 in summer. One fixed
// offset per country, as before, judged both seasons alike.
func TestSenderNightDaylightSaving(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		country, at string
		night       bool
	}{
		{"US", "2026-01-15T03:30:00Z", false}, // 21:30 CST
		{"US", "2026-07-15T03:30:00Z", true},  // 22:30 CDT
		{"US", "2026-01-15T10:30:00Z", true},  // 04:30 CST
		{"US", "2026-07-15T10:30:00Z", false}, // 05:30 CDT
		{"US", "2026-03-08T07:59:00Z", true},  // 01:59 CST, a minute before the spring change
		{"US", "2026-03-08T10:30:00Z", false}, // 05:30 CDT, the same morning
		{"GB", "2026-01-15T21:30:00Z", false}, // 21:30 GMT
		{"GB", "2026-07-15T21:30:00Z", true},  // 22:30 BST
		{"AU", "2026-01-15T11:30:00Z", true},  // 22:30 AEDT (southern summer)
		{"AU", "2026-07-15T11:30:00Z", false}, // 21:30 AEST
		{"PH", "2026-01-15T14:00:00Z", true},  // 22:00 PHT, no daylight saving
		{"PH", "2026-07-15T13:59:00Z", false}, // 21:59 PHT
		{"PH", "2026-07-15T21:00:00Z", false}, // 05:00 PHT: the night ends at 05:00
		{"ZZ", "2026-01-15T03:30:00Z", false}, // unknown country: not judged
	} {
		if got := senderNight(c.country, at(c.at)); got != c.night {
			t.Errorf("senderNight(%s, %s) = %v, want %v", c.country, c.at, got, c.night)
		}
	}
}

// A gift's sender_tz is finer than its country: a Los Angeles sender at 04:00
// PDT is in her night while Chicago, the US's zone, is at 06:00. An unknown
// or untrusted name falls back to the country's zone, and the cache of names
// stays bounded.
func TestSenderNightSenderTZ(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 7, 15, 11, 0, 0, 0, time.UTC) // 04:00 PDT, 06:00 CDT
	gift := func(tz string) *event.Event { return &event.Event{SenderCountry: "US", SenderTZ: tz} }
	if !e.senderNight(gift("America/Los_Angeles"), at) {
		t.Error("04:00 in Los Angeles is night")
	}
	for _, tz := range []string{"", "Mars/Olympus", "Local", "../etc/passwd"} {
		if e.senderNight(gift(tz), at) {
			t.Errorf("sender_tz %q: want the US zone's 06:00, not night", tz)
		}
		// Checked on the zone itself too: "Local" is the machine's zone,
		// UTC on most, where 11:00 is no night either, so the check by
		// the hour above could not tell it from the country's zone.
		if tz != "" && e.senderZone(tz) != nil {
			t.Errorf("sender_tz %q resolved to %v, want no zone (the country's applies)", tz, e.senderZone(tz))
		}
	}
	// Likewise a stream.start tz of "Local" is the default zone, not the
	// machine's.
	if l := e.location("Local"); l != e.defTZ {
		t.Errorf("tz \"Local\" resolved to %v, want the default zone %v", l, e.defTZ)
	}
	for i := 0; len(e.senderTZ) < maxSenderZones; i++ {
		e.senderZone(fmt.Sprintf("Bogus/Zone%d", i))
	}
	if e.senderZone("Asia/Tokyo") != nil || len(e.senderTZ) != maxSenderZones {
		t.Errorf("a full cache loads new names: %d", len(e.senderTZ))
	}
	if e.senderZone("America/Los_Angeles") == nil {
		t.Error("a cached name is forgotten")
	}
}

// A host in Manila is at home with a PH sender; abroad with a US one.
func TestSameCountryManila(t *testing.T) {
	manila, _ := time.LoadLocation("Asia/Manila")
	jakarta, _ := time.LoadLocation("Asia/Jakarta")
	if !sameCountry("PH", manila, jakarta) || sameCountry("US", manila, jakarta) || sameCountry("ID", manila, jakarta) {
		t.Error("a Manila host: PH is home, US and ID abroad")
	}
	if !sameCountry("PH", nil, manila) {
		t.Error("a host without tz in a Manila deployment is in PH")
	}
}

// A zone name that falls back to the default zone (or the sender's
// country's) because its cache is full is counted, once a lookup; names
// already cached, and names refused as unknown while the cache has room, are
// not.
func TestZonesFallbackCounted(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; len(e.tz) <= 1024; i++ {
		e.location(fmt.Sprintf("Bogus/Host%d", i))
	}
	for i := 0; len(e.senderTZ) < maxSenderZones; i++ {
		e.senderZone(fmt.Sprintf("Bogus/Sender%d", i))
	}
	if n := e.Stats().ZonesFallback; n != 0 {
		t.Fatalf("%d fallbacks counted while the caches had room", n)
	}
	e.location("Bogus/Host0")
	e.senderZone("Bogus/Sender0")
	if n := e.Stats().ZonesFallback; n != 0 {
		t.Errorf("cached names counted as %d fallbacks", n)
	}
	if l := e.location("Asia/Tokyo"); l != e.defTZ {
		t.Errorf("a full host-zone cache loaded %v", l)
	}
	if n := e.Stats().ZonesFallback; n != 1 {
		t.Errorf("host zone past the full cache: %d fallbacks, want 1", n)
	}
	if e.senderZone("Asia/Tokyo") != nil {
		t.Error("a full sender-zone cache loaded a new name")
	}
	e.senderNight(&event.Event{SenderCountry: "US", SenderTZ: "Europe/Paris"}, time.Now())
	if n := e.Stats().ZonesFallback; n != 3 {
		t.Errorf("sender zones past the full cache: %d fallbacks in all, want 3", n)
	}
}
