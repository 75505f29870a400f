package simulate

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// WriteNDJSON generates the world into w as NDJSON: one compact JSON object per
// line with the contract's field names (the Event's json tags), `at` in RFC
// 3339 UTC ("2025-06-02T13:05:00Z"); gzip-compressed (fastest level) when gz.
//
// The encoder writes exactly what encoding/json writes for an event.Event
// (a test checks this on whole worlds); it exists because reflection-based
// encoding would be most of the generation time.
func WriteNDJSON(ctx context.Context, opts Options, w io.Writer, gz bool) (Labels, Stats, error) {
	out := w
	var zw *gzip.Writer
	if gz {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid, so no error
		out = zw
	}
	enc := &encoder{w: out, buf: make([]byte, 0, 1<<18)}
	l, st, err := generate(ctx, opts, enc.write, true)
	if err == nil {
		err = enc.flush()
	}
	if zw != nil {
		if cerr := zw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("simulate: close gzip: %w", cerr)
		}
	}
	return l, st, err
}

// encoder buffers encoded lines.
type encoder struct {
	w   io.Writer
	buf []byte
	tc  timeCache
}

func (c *encoder) write(e *event.Event) error {
	c.buf = c.tc.appendEvent(c.buf, e)
	c.buf = append(c.buf, '\n')
	if len(c.buf) >= 1<<18-1<<16 {
		return c.flush()
	}
	return nil
}

func (c *encoder) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// timeCache remembers the formatted date of the last UTC day it formatted.
type timeCache struct {
	day    int64
	ok     bool
	prefix []byte // "2006-01-02T"
}

// appendEvent appends e as encoding/json would encode it, fields in struct order.
func (tc *timeCache) appendEvent(b []byte, e *event.Event) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, e.TypeName)
	b = append(b, `,"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"at":`...)
	b = tc.appendTime(b, e.At)
	b = optString(b, `,"node":`, e.Node)
	b = optString(b, `,"stream_id":`, e.StreamID)
	b = optString(b, `,"host_id":`, e.HostID)
	b = optString(b, `,"title":`, e.Title)
	b = optStrings(b, `,"tags":`, e.Tags)
	b = optString(b, `,"category":`, e.Category)
	b = optString(b, `,"device_id":`, e.DeviceID)
	b = optString(b, `,"ip":`, e.IP)
	if g := e.Geo; g != nil {
		b = append(b, `,"geo":{"lat":`...)
		b = appendFloat(b, g.Lat)
		b = append(b, `,"lon":`...)
		b = appendFloat(b, g.Lon)
		if g.AccuracyM != 0 {
			b = append(b, `,"accuracy_m":`...)
			b = appendFloat(b, g.AccuracyM)
		}
		b = append(b, '}')
	}
	b = optString(b, `,"tz":`, e.TZ)
	b = optString(b, `,"agency_id":`, e.AgencyID)
	if h := e.Host; h != nil {
		b = append(b, `,"host":{`...)
		n := len(b)
		if !h.CreatedAt.IsZero() {
			b = append(b, `"created_at":`...)
			b = tc.appendTime(b, h.CreatedAt)
		}
		if h.BirthYear != 0 {
			b = comma(b, n)
			b = append(b, `"birth_year":`...)
			b = strconv.AppendInt(b, int64(h.BirthYear), 10)
		}
		if h.AgeVerified != nil {
			b = comma(b, n)
			b = append(b, `"age_verified":`...)
			b = strconv.AppendBool(b, *h.AgeVerified)
		}
		b = append(b, '}')
	}
	if e.Viewers != 0 {
		b = append(b, `,"viewers":`...)
		b = strconv.AppendInt(b, int64(e.Viewers), 10)
	}
	if e.Private {
		b = append(b, `,"private":true`...)
	}
	b = optString(b, `,"reason":`, e.Reason)
	b = optString(b, `,"sender_id":`, e.SenderID)
	if e.Coins != 0 {
		b = append(b, `,"coins":`...)
		b = strconv.AppendInt(b, e.Coins, 10)
	}
	b = optString(b, `,"gift":`, e.Gift)
	b = optString(b, `,"sender_country":`, e.SenderCountry)
	b = optString(b, `,"text":`, e.Text)
	b = optString(b, `,"account_id":`, e.AccountID)
	b = optString(b, `,"kind":`, e.Kind)
	b = optString(b, `,"to_id":`, e.ToID)
	b = optStrings(b, `,"links":`, e.Links)
	b = optString(b, `,"from_id":`, e.FromID)
	b = optString(b, `,"rel":`, e.Rel)
	b = optString(b, `,"to_account":`, e.ToAccount)
	if e.Amount != 0 {
		b = append(b, `,"amount":`...)
		b = appendFloat(b, e.Amount)
	}
	b = optString(b, `,"currency":`, e.Currency)
	b = optString(b, `,"method":`, e.Method)
	b = optString(b, `,"source":`, e.Source)
	b = optString(b, `,"label":`, e.Label)
	if e.Score != 0 {
		b = append(b, `,"score":`...)
		b = appendFloat(b, e.Score)
	}
	return append(b, '}')
}

func comma(b []byte, n int) []byte {
	if len(b) > n {
		return append(b, ',')
	}
	return b
}

func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendString(b, s)
}

func optStrings(b []byte, key string, xs []string) []byte {
	if len(xs) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendTime writes t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds
// when there are any); whole UTC seconds, the generator's own, take a fast path.
func (tc *timeCache) appendTime(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC || t.Nanosecond() != 0 || t.Year() < 1000 || t.Year() > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	sec := t.Unix()
	day := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		day--
	}
	if !tc.ok || day != tc.day {
		tc.prefix = t.AppendFormat(tc.prefix[:0], "2006-01-02T")
		tc.day, tc.ok = day, true
	}
	s := sec - day*86400
	hh, mm, ss := s/3600, s/60%60, s%60
	b = append(b, '"')
	b = append(b, tc.prefix...)
	b = append(b, byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), 'Z', '"')
	return b
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...) // never generated; encoding/json would fail
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does, HTML characters escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
