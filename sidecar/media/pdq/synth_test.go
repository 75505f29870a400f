package pdq

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

// Synthetic test images, drawn with integer arithmetic only so that every
// platform draws the same pixels. Their expected hashes in
// testdata/vectors.txt were computed by the reference C++ implementation
// (pdqDihedralHash256esFromFloatLuma over fillFloatLumaFromRGB) from the
// same pixels, written out by TestWriteVectorImages.

// xorshift is a tiny deterministic generator: math/rand's streams are not
// promised to stay the same across Go releases.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func synth(name string) *image.NRGBA {
	switch name {
	case "shapes-320x240":
		return shapes(320, 240)
	case "blocks-640x360":
		return blocks(640, 360, 8, 1)
	case "blocks-1280x720":
		return blocks(1280, 720, 16, 1)
	case "rings-257x181":
		return rings(257, 181)
	case "shapes-40x30":
		return shapes(40, 30)
	case "blocks-64x64":
		return blocks(64, 64, 4, 7)
	case "stripes-500x17":
		return stripes(500, 17)
	case "flat-100x100":
		img := image.NewNRGBA(image.Rect(0, 0, 100, 100))
		for i := range img.Pix {
			img.Pix[i] = 128
		}
		return img
	}
	panic("no synthetic image " + name)
}

var synthNames = []string{
	"shapes-320x240", "blocks-640x360", "blocks-1280x720", "rings-257x181",
	"shapes-40x30", "blocks-64x64", "stripes-500x17", "flat-100x100",
}

func shapes(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, b := 255*x/w, 255*y/h, 255*(x+y)/(w+h)
			// a disc, a bar and a square of other colours
			dx, dy := x-w/3, y-h/2
			if dx*dx+dy*dy < (h/4)*(h/4) {
				r, g, b = 230, 40, 40
			}
			if x > w*3/5 && x < w*4/5 && y > h/6 {
				r, g, b = 20, 20, 200
			}
			if x > w/10 && x < w/4 && y > h*3/4 && y < h*9/10 {
				r, g, b = 250, 250, 250
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(r), uint8(g), uint8(b), 255})
		}
	}
	return img
}

func blocks(w, h, cell int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	x := xorshift(seed*0x9E3779B97F4A7C15 + 1)
	cw, ch := (w+cell-1)/cell, (h+cell-1)/cell
	cells := make([]color.NRGBA, cw*ch)
	for i := range cells {
		v := x.next()
		cells[i] = color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255}
	}
	for y := range h {
		for xx := range w {
			img.SetNRGBA(xx, y, cells[(y/cell)*cw+xx/cell])
		}
	}
	return img
}

func rings(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dx, dy := x-w/2, y-h/3
			d := (dx*dx + dy*dy) / 37
			v := uint8(d % 256)
			if (d/256)%2 == 1 {
				v = 255 - v
			}
			img.SetNRGBA(x, y, color.NRGBA{v, uint8(x), 255 - v, 255})
		}
	}
	return img
}

func stripes(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(0)
			if (x/23+y/5)%2 == 0 {
				v = 220
			}
			img.SetNRGBA(x, y, color.NRGBA{v, v / 2, 255 - v, 255})
		}
	}
	return img
}

// TestWriteVectorImages writes the synthetic images as binary PPM into the
// directory named by PDQ_WRITE_PPM, for hashing with the reference; it does
// nothing otherwise.
func TestWriteVectorImages(t *testing.T) {
	dir := os.Getenv("PDQ_WRITE_PPM")
	if dir == "" {
		t.Skip("set PDQ_WRITE_PPM=DIR to write the synthetic images for the reference")
	}
	for _, name := range synthNames {
		img := synth(name)
		b := img.Bounds()
		buf := fmt.Appendf(nil, "P6 %d %d 255\n", b.Dx(), b.Dy())
		for i := 0; i < len(img.Pix); i += 4 {
			buf = append(buf, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		}
		if err := os.WriteFile(filepath.Join(dir, name+".ppm"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
