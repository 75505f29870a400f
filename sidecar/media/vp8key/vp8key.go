// Package vp8key decodes one VP8 keyframe, as the media tap hands it over,
// to an image in memory, with golang.org/x/image/vp8 (RFC 6386 keyframes).
// The frame comes off the wire, so its header is checked against a pixel
// bound before anything is allocated, and a decoder panic costs the frame,
// not the process.
package vp8key

import (
	"bytes"
	"errors"
	"fmt"
	"image"

	"golang.org/x/image/vp8"
)

// Errors of Decode; callers count them apart.
var (
	ErrNotKeyframe   = errors.New("vp8: not a keyframe")
	ErrTooManyPixels = errors.New("vp8: frame larger than the pixel bound")
	ErrInvalid       = errors.New("vp8: invalid keyframe")
)

// Decoder decodes keyframes one after another, reusing its buffers; it is
// not safe for concurrent use.
type Decoder struct{ d *vp8.Decoder }

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{d: vp8.NewDecoder()} }

// Decode decodes frame, a complete VP8 frame, if it is a keyframe of at most
// maxPixels and at least minDim pixels a side. The image belongs to the
// Decoder and is valid until its next Decode.
func (d *Decoder) Decode(frame []byte, maxPixels, minDim int) (img *image.YCbCr, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder panic", ErrInvalid)
		}
	}()
	d.d.Init(bytes.NewReader(frame), len(frame))
	fh, err := d.d.DecodeFrameHeader()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !fh.KeyFrame {
		return nil, ErrNotKeyframe
	}
	if fh.Width*fh.Height > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d", ErrTooManyPixels, fh.Width, fh.Height)
	}
	if fh.Width < minDim || fh.Height < minDim {
		return nil, fmt.Errorf("%w: %dx%d", ErrInvalid, fh.Width, fh.Height)
	}
	m, err := d.d.DecodeFrame()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// The decoder keeps its largest image: cut it to this frame.
	return m.SubImage(image.Rect(0, 0, fh.Width, fh.Height)).(*image.YCbCr), nil
}
