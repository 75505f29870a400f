package analyzer

import (
	"time"
	_ "time/tzdata" // the senders' zones resolve in a static image without a zone database

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Countries of gift senders: whether a sender is abroad, and whether it is night
// where the sender is. Published financial intelligence (AUSTRAC, FATF 2025)
// describes payments "late at night in the payer's time zone", mostly from the
// US, UK, Australia and Canada towards South-East Asia.
//
// A gift carries its sender's country (EVENTS.md, gift.sender_country), and
// the night is computed in the sender's own zone when the gift also carries
// sender_tz (Ronda's compatible extension, README "Input and output"), else in
// one IANA zone per country, with its daylight saving (a London sender's 23:00
// is 22:00 UTC in summer and 23:00 UTC in winter). Where a country spans
// several zones the zone is the one that keeps the error smallest over the
// country's people:
//
//   - US: America/Chicago (Central). By population about 47% of Americans live
//     in Eastern, 29% in Central, 7% in Mountain and 17% in Pacific time; the
//     Central zone is at most 2 hours off for anyone in the 48 states (Eastern
//     would be 3 hours off on the West Coast) and has the smallest mean error.
//   - CA: America/Toronto (Eastern): about 60% of Canadians; Pacific is 3 hours off.
//   - AU: Australia/Sydney (New South Wales, Victoria, with daylight saving):
//     about 58% of Australians; Brisbane is an hour off in the southern
//     summer, Perth 2-3 hours.
//   - BR: America/Sao_Paulo (Brasília time, no daylight saving since 2019).
//   - MX: America/Mexico_City (no daylight saving since 2022).
//   - RU: Europe/Moscow. ID: Asia/Jakarta (western Indonesia, about 57%).
//
// Every other country here has a single zone. A sender in a country that is
// not listed is not judged. An hour of error moves the edges of a seven-hour
// window (22:00-05:00); foreign night gifting is a weak cue (money.foreign_score).
var countryZone = map[string]string{
	"ID": "Asia/Jakarta", "PH": "Asia/Manila", "MY": "Asia/Kuala_Lumpur", "SG": "Asia/Singapore",
	"TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "KH": "Asia/Phnom_Penh", "MM": "Asia/Yangon",
	"LA": "Asia/Vientiane", "TW": "Asia/Taipei", "HK": "Asia/Hong_Kong", "CN": "Asia/Shanghai",
	"JP": "Asia/Tokyo", "KR": "Asia/Seoul", "IN": "Asia/Kolkata", "BD": "Asia/Dhaka", "PK": "Asia/Karachi",
	"AU": "Australia/Sydney", "NZ": "Pacific/Auckland", "US": "America/Chicago", "CA": "America/Toronto",
	"MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
	"GB": "Europe/London", "IE": "Europe/Dublin", "DE": "Europe/Berlin", "NL": "Europe/Amsterdam",
	"FR": "Europe/Paris", "ES": "Europe/Madrid", "IT": "Europe/Rome", "SE": "Europe/Stockholm",
	"NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "CH": "Europe/Zurich", "BE": "Europe/Brussels",
	"AT": "Europe/Vienna", "PL": "Europe/Warsaw",
	"SA": "Asia/Riyadh", "AE": "Asia/Dubai", "QA": "Asia/Qatar", "KW": "Asia/Kuwait", "BH": "Asia/Bahrain",
	"OM": "Asia/Muscat", "TR": "Europe/Istanbul", "RU": "Europe/Moscow", "IL": "Asia/Jerusalem",
	"EG": "Africa/Cairo", "ZA": "Africa/Johannesburg",
}

// countryLoc is countryZone loaded once: the zone database is embedded
// (time/tzdata), so every name resolves; a test checks each one.
var countryLoc = func() map[string]*time.Location {
	m := make(map[string]*time.Location, len(countryZone))
	for c, z := range countryZone {
		if l, err := time.LoadLocation(z); err == nil {
			m[c] = l
		}
	}
	return m
}()

// zoneCountry maps a host's zone to its country, for "abroad": every zone of
// countryZone, and the other zones of the region's countries.
var zoneCountry = func() map[string]string {
	m := map[string]string{
		"Asia/Makassar": "ID", "Asia/Jayapura": "ID", "Asia/Pontianak": "ID",
		"Asia/Kuching": "MY", "Asia/Saigon": "VN", "Asia/Rangoon": "MM",
	}
	for c, z := range countryZone {
		m[z] = c
	}
	return m
}()

// sameCountry says whether a sender's country is the host's own. A host whose
// zone is not in the table is taken to be where the default zone is.
func sameCountry(country string, host, def *time.Location) bool {
	loc := host
	if loc == nil {
		loc = def
	}
	if c, ok := zoneCountry[loc.String()]; ok {
		return c == country
	}
	if c, ok := zoneCountry[def.String()]; ok {
		return c == country
	}
	return false
}

// senderNight says whether t is between 22:00 and 05:00 where the sender lives:
// in the country's zone (countryZone), daylight saving included.
func senderNight(country string, t time.Time) bool {
	loc, ok := countryLoc[country]
	if !ok {
		return false
	}
	return nightHour(t.In(loc).Hour())
}

func nightHour(h int) bool { return h >= 22 || h < 5 }

// maxSenderZones bounds the cache of senders' zone names: a sender_tz comes
// from a viewer's app, so its names are not trusted to be few. A name first
// seen when the cache is full is not loaded, and the country's zone applies
// (counted in Stats.ZonesFallback).
const maxSenderZones = 1024

// senderNight is senderNight in the gift's own sender_tz when it carries a
// known one (the contract extension for countries of several zones: a West
// Coast sender in the US), else in its country's zone.
func (e *Engine) senderNight(ev *event.Event, t time.Time) bool {
	if ev.SenderTZ != "" {
		if loc := e.senderZone(ev.SenderTZ); loc != nil {
			return nightHour(t.In(loc).Hour())
		}
	}
	return senderNight(ev.SenderCountry, t)
}

func (e *Engine) senderZone(name string) *time.Location {
	if l, ok := e.senderTZ[name]; ok {
		return l
	}
	if len(e.senderTZ) >= maxSenderZones {
		e.stats.ZonesFallback++
		return nil
	}
	if e.senderTZ == nil {
		e.senderTZ = make(map[string]*time.Location, 16)
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" || name == "" {
		l = nil
	}
	e.senderTZ[name] = l
	return l
}
