package intake

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// bodyGrace is the time a body gets before MinBodyRate is counted: the first
// bytes may wait for a TCP window or a slow start.
const bodyGrace = 2 * time.Second

// maxPooledBody is the largest buffer kept for the next request: larger
// ones are left to the collector, so that an idle pool holds little.
const maxPooledBody = 1 << 20

var bodyPool sync.Pool // *[]byte, cap at most maxPooledBody

// readBody reads a body of size bytes (-1: unknown) into a buffer whose
// every growth is reserved from mem first, so that a body being read holds
// at most about what its sender has sent. setDeadline, when not nil, moves
// the connection's read deadline as bytes arrive: the body must come at
// MinBodyRate or faster after bodyGrace, and whole within BodyTimeout. The
// buffer goes back with putBody.
func (h *Handler) readBody(r io.Reader, size int64, mem *reservation, setDeadline func(time.Time) error, start time.Time) ([]byte, *refusal) {
	limit := h.opts.MaxBodyBytes
	target := limit + 1 // read one byte past the limit to see that it is over
	if size >= 0 && size <= limit {
		target = size
	}
	var buf []byte
	if p, ok := bodyPool.Get().(*[]byte); ok {
		buf = (*p)[:0]
	}
	if !mem.grow(int64(cap(buf))) {
		return nil, h.busy("memory_full", "too many bytes of requests in memory")
	}
	var lastSet time.Time
	var scratch [1]byte
	for {
		if len(buf) == cap(buf) && int64(len(buf)) < target {
			newCap := min(max(2*cap(buf), 32<<10), int(target))
			if !mem.grow(int64(newCap - cap(buf))) {
				putBody(buf, mem)
				return nil, h.busy("memory_full", "too many bytes of requests in memory")
			}
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			mem.shrink(int64(cap(buf))) // the old buffer is garbage now
			buf = nb
		}
		if setDeadline != nil {
			if d := h.bodyDeadline(start, len(buf)); d.Sub(lastSet) >= 100*time.Millisecond || d.Before(lastSet) {
				_ = setDeadline(d) // unsupported (a test recorder): no deadline
				lastSet = d
			}
		}
		into := buf[len(buf):cap(buf)]
		if len(into) == 0 { // target reached: the next read must be EOF
			into = scratch[:]
		}
		n, err := r.Read(into)
		if len(buf) < cap(buf) {
			buf = buf[:len(buf)+n]
		} else if n > 0 {
			buf = append(buf, scratch[0]) // past a Content-Length: cannot pass
		}
		if int64(len(buf)) > limit {
			putBody(buf, mem)
			return nil, h.tooLarge()
		}
		switch {
		case err == io.EOF:
			if setDeadline != nil && !lastSet.IsZero() {
				// The server reads on after the handler's body (to see the
				// connection close); an old deadline would cancel the request.
				_ = setDeadline(time.Time{})
			}
			return buf, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			putBody(buf, mem)
			return nil, refuse(http.StatusRequestTimeout, "read_timeout",
				fmt.Sprintf("body too slow: it must come at %d bytes/s or faster and whole within %s",
					h.opts.MinBodyRate, h.opts.BodyTimeout))
		case err != nil:
			putBody(buf, mem)
			return nil, refuse(http.StatusBadRequest, "read", "read body: "+err.Error())
		}
	}
}

// bodyDeadline is when the next byte must have come, read bytes in.
func (h *Handler) bodyDeadline(start time.Time, read int) time.Time {
	end := start.Add(h.opts.BodyTimeout)
	if h.opts.MinBodyRate <= 0 {
		return end
	}
	d := start.Add(bodyGrace + time.Duration(float64(read+1)/float64(h.opts.MinBodyRate)*float64(time.Second)))
	if d.After(end) {
		return end
	}
	return d
}

// putBody keeps a small buffer for the next request and gives its bytes
// back to the budget.
func putBody(buf []byte, mem *reservation) {
	mem.shrink(int64(cap(buf)))
	if cap(buf) > 0 && cap(buf) <= maxPooledBody {
		buf = buf[:0]
		bodyPool.Put(&buf)
	}
}
