package analyzer

import "time"

// Countries of gift senders: whether a sender is abroad, and whether it is night
// where the sender is. Published financial intelligence (AUSTRAC, FATF 2025)
// describes payments "late at night in the payer's time zone", mostly from the
// US, UK, Australia and Canada towards South-East Asia.

// countryOffset is a representative UTC offset in hours per ISO 3166-1 alpha-2
// code: the most populous zone, standard time. Unknown countries are not judged.
var countryOffset = map[string]float64{
	"ID": 7, "PH": 8, "MY": 8, "SG": 8, "TH": 7, "VN": 7, "KH": 7, "MM": 6.5, "LA": 7,
	"TW": 8, "HK": 8, "CN": 8, "JP": 9, "KR": 9, "IN": 5.5, "BD": 6, "PK": 5,
	"AU": 10, "NZ": 12, "US": -5, "CA": -5, "MX": -6, "BR": -3,
	"GB": 0, "IE": 0, "DE": 1, "NL": 1, "FR": 1, "ES": 1, "IT": 1, "SE": 1, "NO": 1, "DK": 1, "CH": 1, "BE": 1, "AT": 1, "PL": 1,
	"SA": 3, "AE": 4, "QA": 3, "KW": 3, "BH": 3, "OM": 4, "TR": 3, "RU": 3, "IL": 2, "EG": 2, "ZA": 2,
}

// zoneCountry maps a host's zone to its country, for "abroad".
var zoneCountry = map[string]string{
	"Asia/Jakarta": "ID", "Asia/Makassar": "ID", "Asia/Jayapura": "ID", "Asia/Pontianak": "ID",
	"Asia/Manila": "PH", "Asia/Kuala_Lumpur": "MY", "Asia/Bangkok": "TH", "Asia/Ho_Chi_Minh": "VN",
	"Asia/Singapore": "SG", "Asia/Phnom_Penh": "KH", "Asia/Yangon": "MM", "Asia/Vientiane": "LA",
}

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

// senderNight says whether t is between 22:00 and 05:00 where the sender lives.
func senderNight(country string, t time.Time) bool {
	off, ok := countryOffset[country]
	if !ok {
		return false
	}
	local := t.Add(time.Duration(off * float64(time.Hour))).UTC()
	h := local.Hour()
	return h >= 22 || h < 5
}
