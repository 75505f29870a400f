package media

import (
	"time"

	"github.com/pion/rtcp"
)

// requestKeyframe asks the publisher for a key frame, an RTCP Picture Loss
// Indication (RFC 4585 section 6.3.1), when the stream is due one for
// OnKeyframe and none is being assembled: a browser sends a key frame at the
// start of a broadcast and then only when asked, so without a request the
// key frame consumers would see one picture per broadcast. At most one
// request per track per KeyframeEvery, and never two within
// MinKeyframeRequestInterval: each key frame costs the publisher several
// times an ordinary frame's bits.
func (t *track) requestKeyframe(now time.Time) {
	if t.asm.armed || now.Before(t.nextPLI) || !t.s.keyframeDue(now) {
		return
	}
	t.nextPLI = now.Add(max(t.s.tap.cfg.KeyframeEvery, MinKeyframeRequestInterval))
	result := "sent"
	if err := t.s.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: t.ssrc}}); err != nil {
		result = "failed"
	}
	t.s.tap.m.keyRequests.WithLabelValues(result).Inc()
}
