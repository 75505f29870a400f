package simulate

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
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
	enc := &encoder{w: w, buf: make([]byte, 0, bufSize)}
	var zw *gzip.Writer
	if gz {
		// Compression runs beside generation, on full buffers, in order.
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid, so no error
		enc.p = startPipe(zw)
	}
	l, st, err := generate(ctx, opts, enc.write, true)
	if err == nil {
		err = enc.flush()
	}
	if enc.p != nil {
		if perr := enc.p.close(); err == nil && perr != nil {
			err = fmt.Errorf("simulate: write: %w", perr)
		}
		if cerr := zw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("simulate: close gzip: %w", cerr)
		}
	}
	return l, st, err
}

const bufSize = 1 << 18

// encoder buffers encoded lines and writes them to w, or hands full buffers
// to a pipe.
type encoder struct {
	w   io.Writer
	p   *pipe
	buf []byte
	tc  timeCache
}

// pipe writes buffers to w in a goroutine of its own.
type pipe struct {
	work chan []byte
	free chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func startPipe(w io.Writer) *pipe {
	const n = 3
	p := &pipe{work: make(chan []byte, n), free: make(chan []byte, n), done: make(chan struct{})}
	for range n - 1 {
		p.free <- make([]byte, 0, bufSize)
	}
	go func() {
		defer close(p.done)
		for b := range p.work {
			if p.error() == nil {
				if _, err := w.Write(b); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
				}
			}
			p.free <- b[:0]
		}
	}()
	return p
}

func (p *pipe) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// send hands b over and returns an empty buffer.
func (p *pipe) send(b []byte) ([]byte, error) {
	if err := p.error(); err != nil {
		return b[:0], err
	}
	p.work <- b
	return <-p.free, nil
}

func (p *pipe) close() error {
	close(p.work)
	<-p.done
	return p.err
}

func (c *encoder) write(e *event.Event) error {
	c.buf = c.tc.appendEvent(c.buf, e)
	c.buf = append(c.buf, '\n')
	if len(c.buf) >= bufSize-1<<16 {
		return c.flush()
	}
	return nil
}

func (c *encoder) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if c.p != nil {
		var err error
		c.buf, err = c.p.send(c.buf)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
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
	// Years 1000 to 9999, where the fast path's four-digit years hold.
	const lo, hi = -30610224000, 253402300799
	sec := t.Unix()
	if sec < lo || sec > hi || t.Nanosecond() != 0 || t.Location() != time.UTC {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
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

// safeASCII marks the bytes encoding/json writes as they are (HTML escaped).
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString quotes s as encoding/json does, HTML characters escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safeASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
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
