package serve

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkLogRecord: encoding a 1,000-event batch into its intake log record
// (on the sender's request, before the answer) and decoding it back (replay);
// log-B/event is the record's size per event, what the intake log grows by
// between checkpoints (docs/sizing.md).
func BenchmarkLogRecord(b *testing.B) {
	evs, _ := world(b, 9, 300, 4, 2)
	evs = evs[:1000]
	var buf bytes.Buffer
	b.Run("encode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			encodeLogRecord(&buf, time.Now(), evs)
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	rec := bytes.Clone(buf.Bytes())
	b.Run("decode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			decodeLogRecord(rec)
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(rec))/float64(len(evs)), "log-B/event")
	})
}
