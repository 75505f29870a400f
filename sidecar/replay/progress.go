package replay

import (
	"fmt"
	"io"
	"time"

	"golang.org/x/term"
)

// progress writes the progress line. A nil *progress writes nothing.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	now   func() time.Time
	start time.Time
	last  time.Time
	read  func() int64 // input bytes consumed so far
	size  int64        // -1 when unknown (stdin)
}

// newProgress returns nil when w is nil. On a terminal the line is redrawn in place
// at most 4 times a second; elsewhere (a log file, CI) a plain line every 10 seconds.
func newProgress(w io.Writer, now func() time.Time, start time.Time, read func() int64, size int64) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, now: now, start: start, last: start, read: read, size: size, every: 10 * time.Second}
	if f, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.every = 250 * time.Millisecond
	}
	return p
}

// tick is called every few thousand events; it writes when the interval has passed.
func (p *progress) tick(events uint64, alerts int) {
	if p == nil {
		return
	}
	t := p.now()
	if t.Sub(p.last) < p.every {
		return
	}
	p.last = t
	p.write(t, events, alerts, false)
}

// done writes the final line.
func (p *progress) done(events uint64, alerts int) {
	if p == nil {
		return
	}
	p.write(p.now(), events, alerts, true)
}

func (p *progress) write(t time.Time, events uint64, alerts int, final bool) {
	where := fmt.Sprintf("%.1f MB read", float64(p.read())/1e6)
	if p.size > 0 {
		where = fmt.Sprintf("%5.1f%%", 100*float64(p.read())/float64(p.size))
	}
	rate := 0.0
	if d := t.Sub(p.start).Seconds(); d > 0 {
		rate = float64(events) / d
	}
	line := fmt.Sprintf("replay %s  %s events  %s events/s  %s alerts",
		where, thousands(events), thousands(uint64(rate)), thousands(uint64(alerts)))
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// thousands formats n with comma separators: 1234567 → "1,234,567".
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	if len(s) <= 3 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	pre := len(s) % 3
	if pre > 0 {
		out = append(out, s[:pre]...)
	}
	for i := pre; i < len(s); i += 3 {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}
