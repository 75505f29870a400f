package media

import (
	"errors"
	"fmt"
)

// Resolution limits of ParseSPS: H.264 levels stop at 8192x4320 (level 6.2);
// a larger figure is a broken or hostile SPS, not a broadcast.
const (
	maxSPSBytes = 1024
	maxPictureW = 16384
	maxPictureH = 16384
)

// ErrSPS is returned (wrapped) for an SPS that cannot be read.
var ErrSPS = errors.New("h264 sps")

// SPS is what Ronda reads from an H.264 sequence parameter set: the coded
// picture's size after cropping, and the profile and level.
type SPS struct {
	Profile, Level int
	Width, Height  int
}

// ParseSPS reads a sequence parameter set NAL unit (ITU-T H.264 7.3.2.1.1),
// header byte included, without emulation-prevention bytes removed. It reads
// only up to the cropping window and is bounded: at most maxSPSBytes, every
// Exp-Golomb code at most 32 bits, every loop bounded by the standard's
// maxima.
func ParseSPS(nal []byte) (SPS, error) {
	if len(nal) < 4 {
		return SPS{}, fmt.Errorf("%w: %d bytes", ErrSPS, len(nal))
	}
	if nal[0]&0x1f != 7 {
		return SPS{}, fmt.Errorf("%w: nal type %d is not an SPS", ErrSPS, nal[0]&0x1f)
	}
	if len(nal) > maxSPSBytes {
		nal = nal[:maxSPSBytes]
	}
	var rbsp [maxSPSBytes]byte
	b := &bitReader{buf: unescapeRBSP(rbsp[:0], nal[1:])}
	var s SPS
	s.Profile = int(b.u(8))
	b.u(8) // constraint flags
	s.Level = int(b.u(8))
	if b.ue() > 31 {
		return SPS{}, fmt.Errorf("%w: seq_parameter_set_id out of range", ErrSPS)
	}
	chroma := uint32(1)
	separate := false
	switch s.Profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if chroma = b.ue(); chroma > 3 {
			return SPS{}, fmt.Errorf("%w: chroma_format_idc %d", ErrSPS, chroma)
		}
		if chroma == 3 {
			separate = b.u(1) == 1
		}
		if b.ue() > 6 || b.ue() > 6 {
			return SPS{}, fmt.Errorf("%w: bit depth out of range", ErrSPS)
		}
		b.u(1) // qpprime_y_zero_transform_bypass_flag
		if b.u(1) == 1 {
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if b.u(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(b, size)
				}
			}
		}
	}
	if b.ue() > 12 { // log2_max_frame_num_minus4
		return SPS{}, fmt.Errorf("%w: log2_max_frame_num out of range", ErrSPS)
	}
	switch b.ue() { // pic_order_cnt_type
	case 0:
		if b.ue() > 12 {
			return SPS{}, fmt.Errorf("%w: log2_max_pic_order_cnt_lsb out of range", ErrSPS)
		}
	case 1:
		b.u(1)
		b.se()
		b.se()
		n := b.ue()
		if n > 255 {
			return SPS{}, fmt.Errorf("%w: num_ref_frames_in_pic_order_cnt_cycle %d", ErrSPS, n)
		}
		for range n {
			b.se()
		}
	case 2:
	default:
		return SPS{}, fmt.Errorf("%w: pic_order_cnt_type out of range", ErrSPS)
	}
	b.ue() // max_num_ref_frames
	b.u(1) // gaps_in_frame_num_value_allowed_flag
	wMBs := b.ue() + 1
	hUnits := b.ue() + 1
	frameMBsOnly := b.u(1)
	if frameMBsOnly == 0 {
		b.u(1) // mb_adaptive_frame_field_flag
	}
	b.u(1) // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if b.u(1) == 1 {
		cl, cr, ct, cb = b.ue(), b.ue(), b.ue(), b.ue()
	}
	if b.err {
		return SPS{}, fmt.Errorf("%w: truncated or invalid code", ErrSPS)
	}
	// 7.4.2.1.1: the crop units follow the chroma subsampling.
	cropX, cropY := uint64(1), uint64(2-frameMBsOnly)
	if chroma != 0 && !separate {
		subW, subH := uint64(2), uint64(2) // 4:2:0
		switch chroma {
		case 2:
			subH = 1
		case 3:
			subW, subH = 1, 1
		}
		cropX, cropY = subW, subH*uint64(2-frameMBsOnly)
	}
	w := uint64(wMBs) * 16
	h := uint64(2-frameMBsOnly) * uint64(hUnits) * 16
	cw, ch := (uint64(cl)+uint64(cr))*cropX, (uint64(ct)+uint64(cb))*cropY
	if w > maxPictureW || h > maxPictureH || cw >= w || ch >= h {
		return SPS{}, fmt.Errorf("%w: picture %dx%d cropped by %dx%d out of range", ErrSPS, w, h, cw, ch)
	}
	s.Width, s.Height = int(w-cw), int(h-ch)
	return s, nil
}

func skipScalingList(b *bitReader, size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + b.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if b.err {
			return
		}
	}
}

// unescapeRBSP appends src to dst without its emulation-prevention bytes
// (the 03 of 00 00 03).
func unescapeRBSP(dst, src []byte) []byte {
	zeros := 0
	for _, c := range src {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		dst = append(dst, c)
	}
	return dst
}

// bitReader reads big-endian bits; past the end it sets err and reads zeros,
// so a parser checks err once at the end.
type bitReader struct {
	buf []byte
	pos int // in bits
	err bool
}

func (b *bitReader) u(n int) uint32 {
	var v uint32
	for range n {
		if b.pos >= len(b.buf)*8 {
			b.err = true
			return 0
		}
		v = v<<1 | uint32(b.buf[b.pos/8]>>(7-b.pos%8)&1)
		b.pos++
	}
	return v
}

// ue reads an unsigned Exp-Golomb code (9.1) of at most 32 bits of value.
func (b *bitReader) ue() uint32 {
	zeros := 0
	for b.u(1) == 0 {
		if b.err || zeros == 31 {
			b.err = true
			return 0
		}
		zeros++
	}
	return (1<<zeros - 1) + b.u(zeros)
}

// se reads a signed Exp-Golomb code (9.1.1).
func (b *bitReader) se() int32 {
	k := b.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}
