package media

import "encoding/binary"

// vp8Frame inspects the VP8 payload (RFC 7741 section 4.3, descriptor
// removed) of the first packet of a frame: whether the frame is a key frame
// and, for one, its size from the key frame header (RFC 6386 section 9.1:
// the 3-byte frame tag, the start code 9d 01 2a, then 14-bit width and
// height, each with 2 bits of scaling).
func vp8Frame(payload []byte) (key bool, w, h int) {
	if len(payload) < 3 || payload[0]&1 != 0 {
		return false, 0, 0
	}
	if len(payload) < 10 || payload[3] != 0x9d || payload[4] != 0x01 || payload[5] != 0x2a {
		return true, 0, 0
	}
	w = int(binary.LittleEndian.Uint16(payload[6:]) & 0x3fff)
	h = int(binary.LittleEndian.Uint16(payload[8:]) & 0x3fff)
	return true, w, h
}

// vp8Descriptor skips the VP8 payload descriptor (RFC 7741 section 4.2) and
// says whether the packet starts partition 0 of a frame (S=1, PID=0). It
// does what codecs.VP8Packet.Unmarshal does, for the fields Ronda needs,
// without filling a struct per packet.
func vp8Descriptor(p []byte) (payload []byte, start bool, ok bool) {
	if len(p) < 1 {
		return nil, false, false
	}
	i := 1
	start = p[0]&0x10 != 0 && p[0]&0x07 == 0
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return nil, false, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if i >= len(p) {
				return nil, false, false
			}
			if p[i]&0x80 != 0 { // M: 15-bit picture id
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if i >= len(p) {
		return nil, false, false
	}
	return p[i:], start, true
}
