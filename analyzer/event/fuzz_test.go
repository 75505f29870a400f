package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecode checks that Decode never panics, that it answers one of its three
// ways, that an accepted event survives encoding/json and decoding again, and
// that it reads the same values as encoding/json does from the same line.
func FuzzDecode(f *testing.F) {
	for i, line := range realLines(f) {
		if i%20 == 0 || bytes.Contains(line, []byte(`"stream.start"`)) || bytes.Contains(line, []byte(`"payout"`)) {
			f.Add(line)
		}
	}
	for _, c := range rejectCases() {
		if len(c.line) < 1000 {
			f.Add([]byte(c.line))
		}
	}
	f.Add([]byte(`{"type":"signal","stream_id":"s1","source":"nsfw-v2","label":"nudity","score":0.93,"id":"x6","at":"2025-06-05T01:01:00+07:00"}`))
	f.Add([]byte(`{"type":"post","account_id":"a1","kind":"dm","text":"cek \u00e9\ud83d\ude00","to_id":"h1","links":["https://x.test/a"],"id":"x4","at":"2025-05-24T01:20:00.5Z"}`))
	f.Add([]byte(`{"type":"stream.start","id":"x1","at":"2025-06-01T18:07:00-03:30","stream_id":"s1","host_id":"h1","tags":["a"],"geo":{"lat":-0,"lon":1e2},"host":{}}`))
	f.Add([]byte(`{"type":"gift","stream_id":"s","host_id":"h","sender_id":"v","coins":2.5e1,"id":"x","at":"2025-06-01T18:00:00Z"}`))
	f.Add([]byte(`{"type":"gift","stream_id":"s","host_id":"h","sender_id":"v","coins":1,"sender_country":"US","sender_tz":"America/Los_Angeles","id":"x","at":"2025-06-01T18:00:00Z"}`))

	var d Decoder // shared across inputs, as in use: state must not leak between lines
	f.Fuzz(func(t *testing.T, line []byte) {
		checkDecode(t, &d, line)
	})
}

// FuzzDecodeFields drives the fuzzer into the field rules: it puts raw fuzzed
// text (escapes and all) into the value slots of an event line of each type.
func FuzzDecodeFields(f *testing.F) {
	f.Add(uint8(0), "e1", "2025-06-01T17:56:00Z", "s1", "h1", "v1", "30", "halo", "-2.5", "140.7", "1989", "true")
	f.Add(uint8(1), `e\u00e9`, "2025-06-01T17:56:00.5+07:00", `s\n`, "", "v", "3.0", `\ud83d\ude00`, "90", "-180", "2100.0", "false")
	f.Add(uint8(4), "e", "2025-02-29T17:56:00Z", "s", "h", "v", "1e3", `\\`, "1e-400", "0", "1900", "null")
	f.Add(uint8(8), "e", "2025-06-01T17:56:00-00:00", "s", "h", "v", "9223372036854775807", "x", "0.5", "1", "null", "1")
	lineOf := func(typ uint8, id, at, a, b, c, num, text, f1, f2, year, flag string) []byte {
		types := [...]string{"stream.start", "stream.heartbeat", "stream.end", "gift", "chat", "post", "link", "payout", "signal", "x.future"}
		var sb strings.Builder
		sb.WriteString(`{"id":"` + id + `","type":"` + types[int(typ)%len(types)] + `","at":"` + at + `"`)
		fields := []string{
			`"stream_id":"` + a + `"`, `"host_id":"` + b + `"`, `"sender_id":"` + c + `"`,
			`"account_id":"` + a + `"`, `"to_account":"` + b + `"`, `"from_id":"` + a + `"`, `"to_id":"` + c + `"`,
			`"coins":` + num, `"viewers":` + num, `"private":` + flag, `"text":"` + text + `"`,
			`"kind":"` + text + `"`, `"rel":"` + text + `"`, `"source":"` + b + `"`, `"label":"` + c + `"`,
			`"score":` + f1, `"amount":` + f2, `"tags":["` + text + `","` + a + `"]`, `"links":["` + text + `"]`,
			`"geo":{"lat":` + f1 + `,"lon":` + f2 + `,"accuracy_m":` + num + `}`,
			`"host":{"created_at":"` + at + `","birth_year":` + year + `,"age_verified":` + flag + `}`,
			`"node":"` + c + `"`, `"device_id":"` + b + `"`, `"gift":"` + text + `"`,
		}
		for _, fl := range fields {
			sb.WriteString(",")
			sb.WriteString(fl)
		}
		sb.WriteString("}")
		return []byte(sb.String())
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, typ uint8, id, at, a, b, c, num, text, f1, f2, year, flag string) {
		checkDecode(t, &d, lineOf(typ, id, at, a, b, c, num, text, f1, f2, year, flag))
	})
}

// checkDecode checks the properties of Decode on one line.
func checkDecode(t *testing.T, d *Decoder, line []byte) {
	t.Helper()
	var ev Event
	err := d.Decode(line, &ev)
	var fe *FieldError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		if errors.Is(err, ErrUnknownType) {
			t.Fatalf("both a field error and an unknown type: %v", err)
		}
		checkScanAgreesWithEncodingJSON(t, line)
		return
	case errors.Is(err, ErrUnknownType):
		if ev.Type != TypeUnknown || ev.TypeName == "" {
			t.Fatalf("unknown type error with %+v", ev)
		}
		return
	default:
		t.Fatalf("unexpected error %T %v", err, err)
	}
	if !utf8.Valid(line) {
		t.Fatalf("accepted a line that is not UTF-8")
	}
	checkScanAgreesWithEncodingJSON(t, line)

	out, err := json.Marshal(&ev)
	if err != nil {
		t.Fatalf("marshal %+v: %v", ev, err)
	}
	var again Event
	if err := d.Decode(out, &again); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if !eventsEqual(&ev, &again) {
		t.Fatalf("round trip differs\n 1st %+v\n 2nd %+v", ev, again)
	}
	checkSameValues(t, line, out)
}

// checkScanAgreesWithEncodingJSON compares the scanner's verdict on the grammar
// with encoding/json's, which is the reference for RFC 8259.
func checkScanAgreesWithEncodingJSON(t *testing.T, line []byte) {
	t.Helper()
	line = trimEOL(line)
	if len(line) > MaxEventBytes {
		return
	}
	var s scanner
	ok, notObject := s.scanTop(line)
	valid := json.Valid(line)
	switch {
	case (ok || notObject) && !valid:
		t.Fatalf("scanner accepts what encoding/json does not")
	case !(ok || notObject) && valid && !s.fault.encode && !strings.Contains(s.fault.msg, "nested deeper"):
		t.Fatalf("scanner refuses valid JSON: %s", s.fault.reason())
	}
}

// checkSameValues compares, with encoding/json, the values of the fields the
// Event re-encoded as out against the same fields of the original line.
func checkSameValues(t *testing.T, line, out []byte) {
	t.Helper()
	var orig, enc map[string]any
	for _, x := range []struct {
		b []byte
		m *map[string]any
	}{{line, &orig}, {out, &enc}} {
		dec := json.NewDecoder(bytes.NewReader(x.b))
		dec.UseNumber()
		if err := dec.Decode(x.m); err != nil {
			t.Fatalf("encoding/json cannot read %q: %v", x.b, err)
		}
	}
	for k, v := range enc {
		sameValue(t, k, orig[k], v)
	}
}

func sameValue(t *testing.T, path string, orig, enc any) {
	t.Helper()
	switch e := enc.(type) {
	case string:
		o, ok := orig.(string)
		if !ok {
			t.Fatalf("%s: line has %#v, event has string %q", path, orig, e)
		}
		if path == "at" || path == "host.created_at" {
			ot, err1 := time.Parse(time.RFC3339Nano, o)
			et, err2 := time.Parse(time.RFC3339Nano, e)
			if err1 != nil || err2 != nil || !ot.Equal(et) {
				t.Fatalf("%s: line has %q, event has %q", path, o, e)
			}
			return
		}
		if o != e {
			t.Fatalf("%s: line has %q, event has %q", path, o, e)
		}
	case json.Number:
		o, ok := orig.(json.Number)
		if !ok {
			t.Fatalf("%s: line has %#v, event has number %s", path, orig, e)
		}
		if strings.ContainsAny(string(o), "eE") && len(o) > 40 {
			return // huge exponents: big.Rat would take long, ParseFloat compares below
		}
		or, ok1 := new(big.Rat).SetString(string(o))
		er, ok2 := new(big.Rat).SetString(string(e))
		if ok1 && ok2 && or.Cmp(er) == 0 {
			return
		}
		// A float: the event holds the nearest float64, as encoding/json would.
		of, err1 := strconv.ParseFloat(string(o), 64)
		ef, err2 := strconv.ParseFloat(string(e), 64)
		if err1 != nil || err2 != nil || of != ef {
			t.Fatalf("%s: line has %s, event has %s", path, o, e)
		}
	case bool:
		if o, ok := orig.(bool); !ok || o != e {
			t.Fatalf("%s: line has %#v, event has %v", path, orig, e)
		}
	case []any:
		o, ok := orig.([]any)
		if !ok || len(o) != len(e) {
			t.Fatalf("%s: line has %#v, event has %#v", path, orig, e)
		}
		for i := range e {
			sameValue(t, path, o[i], e[i])
		}
	case map[string]any:
		o, ok := orig.(map[string]any)
		if !ok {
			t.Fatalf("%s: line has %#v, event has %#v", path, orig, e)
		}
		for k, v := range e {
			sameValue(t, path+"."+k, o[k], v)
		}
	default:
		t.Fatalf("%s: unexpected %T in the encoded event", path, enc)
	}
}

// FuzzReader checks that a Reader never panics on any input, plain or gzip,
// that its counts add up, and, for plain input, that it sees the same lines
// and gives the same verdicts as Decode line by line.
func FuzzReader(f *testing.F) {
	f.Add([]byte(lineChat + "\n" + lineBad + "\n\n" + lineFutur + "\r\n{\n" + lineEnd))
	f.Add([]byte(lineChat + "\n" + strings.Repeat("y", MaxEventBytes+10) + "\n" + lineGift + "\n"))
	f.Add(gzipped(f, lineChat+"\n"+lineGift+"\n", lineEnd+"\n"))
	f.Add(gzipped(f, lineChat+"\n")[:20])
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("\r\r\n \n\t"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if !bytes.HasPrefix(data, gzipMagic[:]) {
				t.Fatalf("NewReader failed on plain input: %v", err)
			}
			return
		}
		type verdict struct {
			line int // 0 for an accepted event
			id   string
			kind byte // 'a' accepted, 'r' rejected, 'u' unknown
		}
		var got []verdict
		var accepted, rejected, unknown uint64
		var final error
		for range len(data) + 2 {
			ev, err := r.Next()
			var le *LineError
			switch {
			case err == nil:
				accepted++
				got = append(got, verdict{id: ev.ID, kind: 'a'})
				continue
			case errors.As(err, &le):
				if le.Unknown {
					unknown++
					got = append(got, verdict{line: le.Line, id: le.ID, kind: 'u'})
				} else {
					rejected++
					got = append(got, verdict{line: le.Line, id: le.ID, kind: 'r'})
				}
				continue
			}
			final = err
			break
		}
		if final == nil {
			t.Fatalf("Next did not end after %d calls", len(data)+2)
		}
		st := r.Stats()
		if st.Lines != st.Accepted+st.Rejected+st.Unknown+st.Blank {
			t.Fatalf("counts do not add up: %+v", st)
		}
		if st.Accepted != accepted || st.Rejected != rejected || st.Unknown != unknown {
			t.Fatalf("stats %+v, but Next gave %d accepted, %d rejected, %d unknown", st, accepted, rejected, unknown)
		}
		if bytes.HasPrefix(data, gzipMagic[:]) {
			return
		}
		if final != io.EOF {
			t.Fatalf("plain input ended with %v", final)
		}
		if st.BytesIn != int64(len(data)) {
			t.Fatalf("BytesIn %d, want %d", st.BytesIn, len(data))
		}

		// The same lines through Decode.
		var want []verdict
		var d Decoder
		var lines uint64
		for rest := data; len(rest) > 0; {
			line := rest
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				line, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			lines++
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(bytes.Trim(line, " \t\r")) == 0 {
				continue
			}
			var ev Event
			err := d.Decode(line, &ev)
			switch {
			case err == nil:
				want = append(want, verdict{id: ev.ID, kind: 'a'})
			case errors.Is(err, ErrUnknownType):
				want = append(want, verdict{line: int(lines), id: ev.ID, kind: 'u'})
			default:
				want = append(want, verdict{line: int(lines), id: ev.ID, kind: 'r'})
			}
		}
		if st.Lines != lines {
			t.Fatalf("Lines %d, want %d", st.Lines, lines)
		}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("verdict %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// FuzzParseTime checks the fast path of event times against the standard
// library, with and without the cached date.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2025-06-02T13:05:00Z", "2025-06-02T13:05:00.123456789Z", "2025-06-02T20:05:00+07:00",
		"2024-02-29T23:59:59-00:00", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"0000-01-01T00:00:00+23:59", "2025-06-02T13:05:00.Z", "2025-06-02T13:05:00,5Z",
		"2025-06-02T1:05:00Z", "2025-06-02T13:05:00+24:00", "2025-13-02T13:05:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p timeParser
		checkParseTime(t, &p, s)
		checkParseTime(t, &p, s) // now with its date cached
		if len(s) >= 10 {
			var q timeParser
			q.fast([]byte("2025-06-02T13:05:00Z")) // a different date cached
			checkParseTime(t, &q, s)
		}
	})
}

// FuzzParseInteger checks parseInteger against exact rational arithmetic on
// valid JSON numbers.
func FuzzParseInteger(f *testing.F) {
	for _, s := range []string{"0", "-7", "3.0", "1e3", "2.5e1", "9223372036854775807", "-9223372036854775808", "1.5", "12e-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sc scanner
		sc.b = []byte(s)
		if len(s) == 0 || len(s) > 60 || !(s[0] == '-' || isDigit(s[0])) || !sc.number() || sc.i != len(s) {
			return // not one JSON number, or too long for big.Rat to be quick
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
			if err != nil || exp > 400 || exp < -400 {
				// Too far for big.Rat to be quick, and for a 60-byte mantissa to
				// be anything but 0 or not an int64.
				zero := strings.Trim(s[:i], "-0.") == ""
				if n, ok := parseInteger([]byte(s)); ok != zero || n != 0 {
					t.Fatalf("parseInteger(%q) = %d, %v; want 0, %v", s, n, ok, zero)
				}
				return
			}
		}
		checkParseInteger(t, s)
	})
}
