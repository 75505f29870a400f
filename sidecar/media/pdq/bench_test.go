package pdq

import (
	"image"
	"testing"
)

// BenchmarkHash: one 640x360 frame. YCbCr is what the VP8 decoder gives
// (luma read straight from the Y plane); NRGBA goes through the RGB
// conversion the reference does. Compare with the reference C++ on the same
// pixels (README, "Keyframe hash matching").
func BenchmarkHash(b *testing.B) {
	src := synth("blocks-640x360")
	ycc := image.NewYCbCr(src.Bounds(), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = src.Pix[4*i]
	}
	for name, img := range map[string]image.Image{"640x360-YCbCr": ycc, "640x360-NRGBA": src} {
		b.Run(name, func(b *testing.B) {
			var h Hasher
			for b.Loop() {
				h.Hash(img)
			}
		})
	}
	b.Run("640x360-dihedral", func(b *testing.B) {
		var h Hasher
		for b.Loop() {
			h.Dihedral(src)
		}
	})
}
