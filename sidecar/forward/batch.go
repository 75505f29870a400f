package forward

import (
	"bytes"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// resumeLocked applies a hello: drops the batches it says were taken, takes
// its limits and re-packs what no longer fits them. reset says the server
// does not know this session's past: a new session id is made and every
// batch renumbered from 1.
func (f *Forwarder) resumeLocked(hello wire.ServerMsg) (reset bool, unacked int) {
	if hello.Acked < f.acked || hello.Acked > f.lastSeq {
		f.session = wire.NewID()
		f.acked, f.lastSeq = 0, 0
		for _, b := range f.pending {
			f.lastSeq++
			b.seq = f.lastSeq
		}
		f.st.SessionResets++
		return true, len(f.pending)
	}
	if hello.Acked > f.acked {
		// Taken, but the acks were lost with the connection.
		f.st.AckedByHello += int64(hello.Acked - f.acked)
		f.ackThroughLocked(hello.Acked)
	}
	f.lim = batchLimits{lines: f.opts.MaxBatchLines, bytes: f.opts.MaxBatchBytes}
	f.lim.lines = min(f.lim.lines, hello.MaxLines)
	if hello.RateBurst > 0 {
		f.lim.lines = min(f.lim.lines, hello.RateBurst)
	}
	f.lim.bytes = int(min(int64(f.lim.bytes), hello.MaxBatchBytes))
	// Every batch left is above hello.Acked, never taken: free to re-pack.
	var repacked []*fwdBatch
	split := false
	for _, b := range f.pending {
		body, n := b.body, b.n
		for n > f.lim.lines || len(body) > f.lim.bytes {
			head, headN, rest, restN := splitBody(body, n, f.lim)
			repacked = append(repacked, &fwdBatch{body: head, n: headN, sent: b.sent})
			body, n, split = rest, restN, true
		}
		repacked = append(repacked, &fwdBatch{body: body, n: n, sent: b.sent})
	}
	if split {
		f.lastSeq = f.acked
		for _, b := range repacked {
			f.lastSeq++
			b.seq = f.lastSeq
		}
		f.pending = repacked
	}
	return false, len(f.pending)
}

// splitBody cuts the first batch that fits lim off body (n lines). A single
// line longer than lim.bytes goes alone: the server rejects it, not the
// stream.
func splitBody(body []byte, n int, lim batchLimits) (head []byte, headN int, rest []byte, restN int) {
	end := 0
	for headN < n && headN < lim.lines {
		i := bytes.IndexByte(body[end:], '\n')
		if i < 0 {
			i = len(body) - end - 1
		}
		if headN > 0 && end+i+1 > lim.bytes {
			break
		}
		end += i + 1
		headN++
	}
	return body[:end:end], headN, body[end:], n - headN
}

// ackThroughLocked drops the pending batches up to seq.
func (f *Forwarder) ackThroughLocked(seq uint64) {
	for len(f.pending) > 0 && f.pending[0].seq <= seq {
		b := f.pending[0]
		f.pending[0] = nil
		f.pending = f.pending[1:]
		f.memEvents -= b.n
		f.memBytes -= int64(len(b.body))
		f.st.Acked++
		f.st.AckedEvents += int64(b.n)
		f.m.batches.WithLabelValues("acked").Inc()
	}
	f.acked = max(f.acked, seq)
	f.checkDrainedLocked()
}

// answered applies an ack or a refusal, which both move acked.
func (f *Forwarder) answered(msg wire.ServerMsg) {
	f.mu.Lock()
	var refusedN int
	if msg.Type == wire.MsgRefused && len(f.pending) > 0 && f.pending[0].seq == msg.Seq {
		refusedN = f.pending[0].n
	}
	fresh := msg.Seq > f.acked
	f.ackThroughLocked(msg.Seq)
	if fresh && msg.Type == wire.MsgAck && !msg.Already {
		f.st.Accepted += int64(msg.Accepted)
		f.st.Duplicates += int64(len(msg.Duplicates))
		f.st.Rejected += int64(len(msg.Rejected))
		f.st.Unknown += int64(msg.Unknown)
	}
	if fresh && msg.Type == wire.MsgRefused {
		f.st.Refused++
		f.st.RefusedEvents += int64(refusedN)
	}
	f.mu.Unlock()
	if !fresh {
		return
	}
	switch {
	case msg.Type == wire.MsgRefused:
		f.m.batches.WithLabelValues("refused").Inc()
		f.m.events.WithLabelValues("refused").Add(float64(refusedN))
		f.log.Error("forwarder batch refused by the server, its events are lost",
			"seq", msg.Seq, "events", refusedN, "status", msg.Status, "error", msg.Error)
	case msg.Already:
	default:
		f.m.events.WithLabelValues("accepted").Add(float64(msg.Accepted))
		f.m.events.WithLabelValues("duplicate").Add(float64(len(msg.Duplicates)))
		f.m.events.WithLabelValues("rejected").Add(float64(len(msg.Rejected)))
		f.m.events.WithLabelValues("unknown").Add(float64(msg.Unknown))
		if len(msg.Rejected) > 0 {
			r := msg.Rejected[0]
			f.log.Warn("forwarder lines rejected by the server", "seq", msg.Seq, "rejected", len(msg.Rejected),
				"first_line", r.Line, "first_field", r.Field, "first_reason", r.Reason)
		}
	}
}

// nextBatch returns the batch with seq next: one already sealed (a resend or
// the rest of a split), else a new one sealed from the spool, the full
// chunks or a partial chunk that is due. Nil when there is nothing to send.
func (f *Forwarder) nextBatch(next uint64, now time.Time) (*fwdBatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if next <= f.lastSeq {
		if len(f.pending) == 0 || next < f.pending[0].seq {
			return nil, nil // cannot happen: next > acked
		}
		return f.pending[next-f.pending[0].seq], nil
	}
	if f.spool != nil && (f.spilling || f.spool.Len() > 0) {
		// Spooled batches are older than the chunks in memory.
		if f.spilling {
			return nil, nil // the spiller signals when it is done
		}
		for next > f.lastSeq {
			f.mu.Unlock()
			rec, err := f.takeSpooled()
			f.mu.Lock()
			if err != nil || rec == nil {
				return nil, err
			}
			n := bytes.Count(rec, []byte{'\n'})
			if len(rec) > 0 && rec[len(rec)-1] != '\n' {
				n++
			}
			f.memEvents += n
			f.memBytes += int64(len(rec))
			for n > 0 { // a record larger than the server's limits is split
				head, headN, rest, restN := splitBody(rec, n, f.lim)
				f.sealLocked(head, headN)
				rec, n = rest, restN
			}
		}
		return f.pending[next-f.pending[0].seq], nil
	}
	if len(f.chunks) == 0 {
		if f.cur.n == 0 || (!f.closing && now.Sub(f.cur.since) < f.opts.FlushInterval) {
			return nil, nil
		}
		f.chunks = append(f.chunks, f.cur)
		f.cur = fwdChunk{}
	}
	c := &f.chunks[0]
	head, headN, rest, restN := splitBody(c.body, c.n, f.lim)
	if restN == 0 {
		f.chunks[0] = fwdChunk{}
		f.chunks = f.chunks[1:]
	} else {
		c.body, c.n = rest, restN
	}
	return f.sealLocked(head, headN), nil
}

func (f *Forwarder) sealLocked(body []byte, n int) *fwdBatch {
	f.lastSeq++
	b := &fwdBatch{seq: f.lastSeq, body: body, n: n}
	f.pending = append(f.pending, b)
	return b
}
