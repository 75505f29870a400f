package media

// H.264 NAL unit types Ronda looks at (ITU-T H.264 table 7-1) and the RTP
// packetizations of RFC 6184 section 5.
const (
	nalIDR  = 5
	nalSPS  = 7
	nalSTAP = 24
	nalFUA  = 28
)

// h264Packet inspects one RTP payload of H.264 (RFC 6184): whether it starts
// a key frame (an IDR slice or an SPS, which precedes the IDR of the same
// access unit) and the SPS it carries whole, if any (a single NAL unit or one
// inside a STAP-A; an SPS is never fragmented in practice: tens of bytes).
func h264Packet(p []byte) (key bool, sps []byte) {
	if len(p) < 1 {
		return false, nil
	}
	switch t := p[0] & 0x1f; t {
	case nalIDR:
		return true, nil
	case nalSPS:
		return true, p
	case nalSTAP:
		for i := 1; i+2 < len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			i += 2
			if n == 0 || i+n > len(p) {
				break
			}
			switch p[i] & 0x1f {
			case nalIDR:
				key = true
			case nalSPS:
				key, sps = true, p[i:i+n]
			}
			i += n
		}
		return key, sps
	case nalFUA:
		// The start fragment of an IDR slice.
		return len(p) > 1 && p[1]&0x80 != 0 && p[1]&0x1f == nalIDR, nil
	}
	return false, nil
}
