package forward

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// FuzzServerMsg throws random server messages at the forwarder's parser,
// and applies a hello that passes to a forwarder holding unacknowledged
// batches: the batches left must still run from acked+1 without a gap,
// within the hello's limits, with no event lost.
func FuzzServerMsg(f *testing.F) {
	f.Add([]byte(`{"type":"hello","session":"s","acked":2,"max_batch_bytes":100,"max_lines":3,"ping_interval_ms":20000}`))
	f.Add([]byte(`{"type":"hello","acked":9,"max_batch_bytes":8388608,"max_lines":50000,"rate_events":10,"rate_burst":2}`))
	f.Add([]byte(`{"type":"ack","seq":1,"accepted":2,"duplicates":["a"],"rejected":[{"line":1,"reason":"x"}],"unknown":0}`))
	f.Add([]byte(`{"type":"busy","seq":1,"retry_after_ms":1000,"reason":"sink_busy"}`))
	f.Add([]byte(`{"type":"refused","seq":1,"status":413,"error":"too large"}`))
	f.Add([]byte(`{"type":"error","error":"bad"}`))
	f.Add([]byte(`{"type":"ack","seq":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wire.ParseServerMsg(data)
		if err != nil {
			return
		}
		switch m.Type {
		case wire.MsgAck, wire.MsgBusy, wire.MsgRefused:
			if m.Seq == 0 {
				t.Fatalf("%s without a seq", m.Type)
			}
		case wire.MsgHello:
			if m.MaxLines < 1 || m.MaxBatchBytes < 1 {
				t.Fatalf("hello with limits %d lines %d bytes", m.MaxLines, m.MaxBatchBytes)
			}
		case wire.MsgError:
		default:
			t.Fatalf("type %q passed", m.Type)
		}
		if m.Type != wire.MsgHello {
			return
		}
		fw, err := New(Options{URL: "ws://127.0.0.1:1", KeyID: "k1", Secret: intaketest.Key1, Sender: "fuzz",
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer fw.Close(context.Background())
		// Three batches of 2, 3 and 1 lines: seq 1..3, none acked yet.
		for _, lines := range []string{"a\nbb\n", "ccc\nd\nee\n", "f\n"} {
			n := strings.Count(lines, "\n")
			fw.sealLocked([]byte(lines), n)
			fw.memEvents += n
			fw.memBytes += int64(len(lines))
		}
		fw.mu.Lock()
		reset, _ := fw.resumeLocked(m)
		fw.mu.Unlock()
		if reset != (m.Acked > 3) || reset && fw.st.SessionResets != 1 {
			t.Fatalf("hello acked %d of 3 batches: reset %v, counted %d", m.Acked, reset, fw.st.SessionResets)
		}
		var all []byte
		seq := fw.acked + 1
		for _, b := range fw.pending {
			if b.seq != seq {
				t.Fatalf("pending seq %d, want %d (acked %d)", b.seq, seq, fw.acked)
			}
			seq++
			if !reset && (b.n > fw.lim.lines || len(b.body) > fw.lim.bytes) && b.n > 1 {
				t.Fatalf("batch of %d lines %d bytes over limits %+v", b.n, len(b.body), fw.lim)
			}
			all = append(all, b.body...)
		}
		if fw.lastSeq != seq-1 {
			t.Fatalf("lastSeq %d, pending up to %d", fw.lastSeq, seq-1)
		}
		want := "a\nbb\nccc\nd\nee\nf\n"
		switch {
		case reset:
		case m.Acked >= 1 && m.Acked <= 3:
			want = map[uint64]string{1: "ccc\nd\nee\nf\n", 2: "f\n", 3: ""}[m.Acked]
		}
		if string(all) != want {
			t.Fatalf("left %q, want %q after hello acked %d", all, want, m.Acked)
		}
	})
}

// FuzzSplitBody: however the limits, the pieces put back together are the
// body, each within the limits unless it is a single line.
func FuzzSplitBody(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), 2, 4)
	f.Add([]byte("no newline at the end"), 1, 1)
	f.Add([]byte("\n\n\n"), 5, 1)
	f.Fuzz(func(t *testing.T, body []byte, lines, size int) {
		if lines < 1 || size < 1 || len(body) == 0 {
			return
		}
		n := bytes.Count(body, []byte{'\n'})
		if body[len(body)-1] != '\n' {
			n++
		}
		var got []byte
		rest := body
		for n > 0 {
			head, hn, r, rn := splitBody(rest, n, batchLimits{lines: lines, bytes: size})
			if hn < 1 || hn+rn != n || hn > lines || (hn > 1 && len(head) > size) {
				t.Fatalf("split %q (%d lines) by %d/%d: %d lines %q, %d left", rest, n, lines, size, hn, head, rn)
			}
			got = append(got, head...)
			rest, n = r, rn
		}
		if !bytes.Equal(got, body) || len(rest) != 0 {
			t.Fatalf("pieces %q of %q", got, body)
		}
	})
}
