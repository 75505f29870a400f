package event

import "time"

// timeParser parses event times: RFC 3339 with an offset, as
// time.ParseInLocation(time.RFC3339Nano, s, time.UTC) does, except that it
// refuses an offset of 24 hours or more, which RFC 3339 does not allow and
// encoding/json cannot write back. The location is UTC rather than time.Local
// so that the result never depends on the machine: a zero offset gives UTC,
// any other a fixed zone.
//
// The common shapes (2025-06-02T13:05:00Z, with fraction or offset) take a fast
// path without allocation, which mirrors the standard library's own RFC 3339
// fast path; FuzzParseTime checks that both agree. Consecutive events mostly
// share their date, so the day number of the last date is kept.
type timeParser struct {
	date [10]byte // YYYY-MM-DD of days, valid when days != 0 or date[0] != 0
	days int64
}

func (p *timeParser) parse(b []byte) (time.Time, bool) {
	if t, ok := p.fast(b); ok {
		return t, true
	}
	return parseTimeStd(b)
}

// parseTimeStd is the reference that the fast path must agree with.
func parseTimeStd(b []byte) (time.Time, bool) {
	t, err := time.ParseInLocation(time.RFC3339Nano, string(b), time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	if _, offset := t.Zone(); offset <= -24*3600 || offset >= 24*3600 {
		return time.Time{}, false
	}
	return t, true
}

func (p *timeParser) fast(s []byte) (time.Time, bool) {
	// YYYY-MM-DDTHH:MM:SS
	if len(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	var days int64
	if p.date[0] != 0 && string(s[:10]) == string(p.date[:]) {
		days = p.days
	} else {
		if s[4] != '-' || s[7] != '-' {
			return time.Time{}, false
		}
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		if !(ok1 && ok2 && ok3) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
			return time.Time{}, false
		}
		days = daysSinceEpoch(year, month, day)
		copy(p.date[:], s[:10])
		p.days = days
	}
	hour, ok1 := digits(s[11:13])
	minute, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	s = s[19:]

	var nsec int
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		n := 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		// Like the standard library: nine digits count, the rest are dropped.
		scale := 100000000
		for i := 1; i < n && i <= 9; i++ {
			nsec += int(s[i]-'0') * scale
			scale /= 10
		}
		s = s[n:]
	}

	unix := days*86400 + int64(hour*3600+minute*60+sec)
	if len(s) == 1 && s[0] == 'Z' {
		return time.Unix(unix, int64(nsec)).UTC(), true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return time.Time{}, false
	}
	oh, ok1 := digits(s[1:3])
	om, ok2 := digits(s[4:6])
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	offset := (oh*60 + om) * 60
	if s[0] == '-' {
		offset = -offset
	}
	t := time.Unix(unix-int64(offset), int64(nsec))
	if offset == 0 {
		return t.UTC(), true
	}
	return t.In(time.FixedZone("", offset)), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts days from 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	m := int64(month)
	var doy int64
	if m > 2 {
		doy = (153*(m-3)+2)/5 + int64(day) - 1
	} else {
		doy = (153*(m+9)+2)/5 + int64(day) - 1
	}
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
