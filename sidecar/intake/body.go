package intake

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"os"
	"sync"
	"time"
)

// bodyGrace is the time a body gets before MinBodyRate is counted: the first
// bytes may wait for a TCP window or a slow start.
const bodyGrace = 2 * time.Second

// Body buffers grow by doubling from minBodyBuf and are recycled in pools
// by size class (minBodyBuf << i), so that a body that grows leaves its
// smaller buffers to the next request rather than to the collector. An idle
// pool is emptied by the collector within two cycles.
const (
	minBodyBuf   = 32 << 10
	bodyClasses  = 12 // up to 64 MiB
	maxPooledBuf = minBodyBuf << (bodyClasses - 1)
)

var bodyPools [bodyClasses]sync.Pool // *[]byte

// bodyClass is the largest class whose size is at most n; -1 below the first.
func bodyClass(n int) int {
	if n < minBodyBuf {
		return -1
	}
	return min(bits.Len(uint(n/minBodyBuf))-1, bodyClasses-1)
}

// getBuf returns an empty buffer of at least n bytes (n a class size, or
// the exact size of a last step), from the pools when one fits.
func getBuf(n int) []byte {
	if c := bodyClass(n); c >= 0 && minBodyBuf<<c == n {
		if p, ok := bodyPools[c].Get().(*[]byte); ok {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, n)
}

func recycleBuf(buf []byte) {
	if c := bodyClass(cap(buf)); c >= 0 && cap(buf) <= 2*maxPooledBuf {
		buf = buf[:0]
		bodyPools[c].Put(&buf)
	}
}

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
	var lastSet time.Time
	var scratch [1]byte
	for {
		if len(buf) == cap(buf) && int64(len(buf)) < target {
			// The next class, or exactly the target when that is smaller:
			// a body holds at most twice what its sender has sent.
			want := max(2*cap(buf), minBodyBuf)
			if int64(want) > target {
				want = int(target)
			}
			if !mem.grow(int64(want)) {
				putBody(buf, mem)
				return nil, h.memoryFull(mem)
			}
			nb := getBuf(want)
			mem.grow(int64(cap(nb) - want)) // a pooled buffer a little larger: never above 2×
			nb = append(nb, buf...)
			putBody(buf, mem)
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

// putBody gives a body buffer back to its pool and its bytes back to the
// budget.
func putBody(buf []byte, mem *reservation) {
	mem.shrink(int64(cap(buf)))
	recycleBuf(buf)
}
