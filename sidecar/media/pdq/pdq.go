// Package pdq computes Meta's PDQ perceptual hash of an image: 256 bits that
// stay within a few bits of each other for images a person sees as the same
// (re-encoded, resized, slightly blurred or recoloured), with a quality score
// that flags featureless images whose hashes match too easily.
//
// It follows the published algorithm and the reference implementation in
// facebook/ThreatExchange pdq/ (C++ pdqhashing.cpp, downscaling.cpp): luminance
// Y = 0.299 R + 0.587 G + 0.114 B in float32; two passes of a Jarosz box
// filter along rows then columns with windows ceil(dim/128); decimation to
// 64x64 at the cell centres; the quality metric from the 64x64 gradients; a
// 2D DCT keeping coefficients 1..16 in each direction; one bit per coefficient
// above the median of the 256. The eight dihedral hashes (rotations and flips)
// are derived from the one DCT, as the reference does.
//
// Unlike the reference's file hashers, which first shrink images larger than
// 512 pixels (C++ to 512x512, Python proportionally), the whole image is
// filtered: the box filter already averages every pixel, and a frame of a
// live stream (640x360 to 1920x1080) is cheap enough to take whole.
//
// The package does no I/O: it hashes an image.Image in memory.
package pdq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// Bits is the hash length.
const Bits = 256

// Hash is a PDQ hash. Byte 0 holds the highest bits, so the bytes in order are
// the 64-digit hex form the reference prints and hash lists carry. Bit k of
// the hash (the DCT coefficient at row k/16, column k%16) is bit k%8 of byte
// 31-k/8.
type Hash [32]byte

// ErrHex is returned by ParseHash for text that is not 64 hex digits.
var ErrHex = errors.New("not a PDQ hash: want 64 hex digits")

// ParseHash reads the 64-digit hex form (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("%w, got %d characters", ErrHex, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("%w: %v", ErrHex, err)
	}
	return h, nil
}

// String is the lower-case 64-digit hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Bit reports bit k (0..255).
func (h Hash) Bit(k int) bool { return h[31-k/8]>>(k%8)&1 == 1 }

func (h *Hash) set(k int) { h[31-k/8] |= 1 << (k % 8) }

// Words is the hash as four 64-bit words, highest first, for packed indexes.
func (h Hash) Words() [4]uint64 {
	var w [4]uint64
	for i := range w {
		for _, b := range h[i*8 : i*8+8] {
			w[i] = w[i]<<8 | uint64(b)
		}
	}
	return w
}

// FromWords is the inverse of Words.
func FromWords(w [4]uint64) Hash {
	var h Hash
	for i := range w {
		for j := 0; j < 8; j++ {
			h[i*8+j] = byte(w[i] >> (56 - 8*j))
		}
	}
	return h
}

// Distance is the Hamming distance between two hashes, 0..256.
func Distance(a, b Hash) int {
	wa, wb := a.Words(), b.Words()
	return bits.OnesCount64(wa[0]^wb[0]) + bits.OnesCount64(wa[1]^wb[1]) +
		bits.OnesCount64(wa[2]^wb[2]) + bits.OnesCount64(wa[3]^wb[3])
}
