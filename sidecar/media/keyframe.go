package media

import (
	"slices"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// assembler puts one key frame back together from its RTP packets, in
// memory, with pion's depacketizers (VP8: RFC 7741; H.264: RFC 6184, to
// Annex B). It is armed at a key frame's first packet and holds only that
// frame's packets: pion's samplebuilder would do the reordering too, but it
// keeps two 65,536-entry tables (1 MiB) per track, which for the one frame
// in KeyframeEvery that Ronda wants is a megabyte of garbage per stream.
type assembler struct {
	codec string
	max   int

	armed bool
	ts    uint32
	bytes int
	pkts  []heldPacket
}

type heldPacket struct {
	seq     uint16
	marker  bool
	payload []byte
}

// Outcomes of assembler.push.
const (
	asmPending = iota
	asmDone
	asmIncomplete // the next frame began before this one was whole
	asmTooLarge
)

func (a *assembler) arm(ts uint32) {
	a.armed, a.ts, a.bytes = true, ts, 0
	clear(a.pkts)
	a.pkts = a.pkts[:0]
}

// push takes a packet of the armed frame (or the one after it) and says
// whether the frame is complete, with it.
func (a *assembler) push(p *rtp.Packet) (int, []byte) {
	if p.Timestamp != a.ts {
		if int32(p.Timestamp-a.ts) > 0 {
			a.armed = false
			return asmIncomplete, nil
		}
		return asmPending, nil // a late packet of an earlier frame
	}
	a.bytes += len(p.Payload)
	if a.bytes > a.max {
		a.armed = false
		return asmTooLarge, nil
	}
	a.pkts = append(a.pkts, heldPacket{seq: p.SequenceNumber, marker: p.Marker, payload: slices.Clone(p.Payload)})
	frame, ok := a.finish()
	if !ok {
		return asmPending, nil
	}
	a.armed = false
	return asmDone, frame
}

// finish depacketizes the held packets when they run without a gap from
// the first to the one with the marker bit (the frame's last).
func (a *assembler) finish() ([]byte, bool) {
	first := a.pkts[0].seq
	slices.SortFunc(a.pkts, func(x, y heldPacket) int { return int(int16(x.seq-first)) - int(int16(y.seq-first)) })
	last := a.pkts[len(a.pkts)-1]
	if !last.marker || int(last.seq-a.pkts[0].seq)+1 != len(a.pkts) {
		return nil, false
	}
	var d rtp.Depacketizer
	switch a.codec {
	case codecVP8:
		d = &codecs.VP8Packet{}
	case codecH264:
		d = &codecs.H264Packet{}
	default:
		return nil, false
	}
	frame := make([]byte, 0, a.bytes+64)
	for i, p := range a.pkts {
		if i == 0 && !d.IsPartitionHead(p.payload) {
			return nil, false
		}
		b, err := d.Unmarshal(p.payload)
		if err != nil {
			return nil, false
		}
		frame = append(frame, b...)
	}
	return frame, true
}
